"""Decode + resample throughput of ``course_utils.load_audio`` against raw soxr on decoded arrays.

    python benchmarks/bench_load_audio.py [--size tiny|course] [--data FOLDER]

The clips are the GTZAN stand-in's (16-bit WAV at 22.05 kHz), taken to 16 kHz. Raw soxr (HQ, the
quality ``load_audio`` uses) on arrays decoded beforehand is the physical floor of the work;
``load_audio`` adds decoding the bytes and its checks. For reference, the path of the published
recipe: ``datasets``' ``Audio(sampling_rate=16000)`` column (torchcodec/FFmpeg resampling).
Bytes are read from the dataset before timing, so no case pays for parquet reads.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

NAME = "decode+resample"
TARGET_RATE = 16000
REPEATS = 3


def best_of(fn, repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` runs: the least disturbed by other work on a shared machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(size: str = "course", data: str | None = None, max_clips: int = 200) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-load-audio-") as cache:  # not the learner's cache
        return _run(size, data, max_clips, cache)


def _run(size: str, data: str | None, max_clips: int, cache: str) -> list[dict]:
    import numpy as np
    import soundfile as sf
    import soxr
    from datasets import Audio, load_dataset

    from course_utils import AudioDecodeError, load_audio
    from course_offline.store import revision_dir

    folder = Path(data) if data else revision_dir("marsyas/gtzan", size=size)
    if not folder.is_dir():
        return [{"bench": NAME, "measure": "-", "note": f"not run: {folder} is not built "
                 f"(python -m course_offline build --only gtzan --size {size})"}]
    ds = load_dataset(str(folder), data_dir="all", split="train", cache_dir=cache)
    raw = ds.cast_column("audio", Audio(decode=False))
    items, arrays, rates, picked = [], [], [], []
    for i, item in enumerate(raw["audio"]):
        if len(items) >= max_clips:
            break
        try:
            array, rate = sf.read(io.BytesIO(item["bytes"]), dtype="float32")
        except Exception:  # the stand-in's corrupt clip
            continue
        items.append(item)
        arrays.append(array if array.ndim == 1 else array.mean(axis=1))
        rates.append(rate)
        picked.append(i)
    seconds = sum(len(a) / r for a, r in zip(arrays, rates))

    def course():
        for item in items:
            load_audio(item, TARGET_RATE)

    def floor():
        for array, rate in zip(arrays, rates):
            soxr.resample(array, rate, TARGET_RATE, quality="HQ")

    decoded = ds.select(picked).cast_column("audio", Audio(sampling_rate=TARGET_RATE))

    def recipe():
        for row in decoded:
            row["audio"]["array"]

    t_floor, t_course, t_recipe = best_of(floor), best_of(course), best_of(recipe)
    same = max(float(np.abs(load_audio(items[k], TARGET_RATE) - soxr.resample(arrays[k], rates[k], TARGET_RATE,
                                                                                quality="HQ")).max())
               for k in range(min(5, len(items))))
    speed = lambda t: f"{seconds / t:.0f}x real time"  # noqa: E731
    note = f"{len(items)} clips, {seconds:.0f} s of {rates[0]} Hz audio -> {TARGET_RATE} Hz; best of {REPEATS}"
    return [
        {"bench": NAME, "measure": "load_audio vs raw soxr on decoded arrays", "baseline": speed(t_floor),
         "course": speed(t_course), "ratio": t_floor / t_course, "target": 0.5,
         "note": note + f"; same samples as soxr (max diff {same:.1e})"},
        {"bench": NAME, "measure": "load_audio vs datasets Audio(16000) decode", "baseline": speed(t_recipe),
         "course": speed(t_course), "ratio": t_recipe / t_course, "target": None,
         "note": "the published recipe's decoder (torchcodec), for reference"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="course", choices=["tiny", "course"])
    parser.add_argument("--data", default=None, help="a GTZAN-schema dataset folder instead of the stand-in")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_all import print_table

    from course_utils.training import configure_threads

    configure_threads(1)  # torch and numpy BLAS: one thread each
    print_table(run(args.size, args.data))


if __name__ == "__main__":
    main()
