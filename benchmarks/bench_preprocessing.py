"""GTZAN preprocessing for fine-tuning: the published recipe against the course's on-the-fly way.

    python benchmarks/bench_preprocessing.py [--size tiny|course] [--data FOLDER]

Published (HF audio course, unit 4): ``cast_column("audio", Audio(16000))`` then
``map(preprocess, batched=True, batch_size=100, num_proc=1)``, which decodes, resamples and
materialises every clip's features in the datasets cache before training can start; batches are
then padded by ``DataCollatorWithPadding``. Course (``course_utils.train.prepare_data``): the audio
stays encoded; each batch is decoded, resampled once with soxr and featurised when the DataLoader
asks for it (``AudioPreprocessor.collate``).

Each way runs in its own process with its own datasets cache, so peak RSS and bytes written are
its own, twice: from an empty cache (the first ``load_dataset`` makes an Arrow copy of the
encoded audio, which both ways pay) and from a cache that already holds that copy (the dataset was
loaded before: a second run, or the model builds of ``make course``), which leaves what
preprocessing itself costs. Figures are measured from the first ``load_dataset`` call: seconds to
the first training batch, seconds for one epoch over the train split (a DataLoader pass, batch 8,
no model), peak RSS, bytes the run added to the cache, bytes written to disk; and the largest
difference between the two ways' model inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH = 8
CHECK_CLIPS = 8  # clips whose model inputs are compared between the two ways
NAME = "preprocessing (GTZAN)"


def dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def written_bytes() -> int | None:
    try:
        import psutil

        return psutil.Process().io_counters().write_bytes
    except Exception:  # io counters are not available everywhere
        return None


def extractor_dir(tmp: Path) -> str:
    """The DistilHuBERT stand-in's folder if it is built, else its feature extractor alone."""
    from course_offline.store import standin_dir

    folder = standin_dir("model", "distilhubert")
    if folder.is_dir():
        return str(folder)
    from transformers import Wav2Vec2FeatureExtractor

    folder = tmp / "extractor"  # not built: the same extractor, written here
    # The settings of ntu-spml/distilhubert's preprocessor_config.json.
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=False,
                             return_attention_mask=False).save_pretrained(folder)
    return str(folder)


# --- the two ways, each run in a child process ----------------------------------------------------


_BASE: dict = {}  # cache bytes and bytes written when the measured part starts


def _mark() -> None:
    _BASE["written"] = written_bytes()
    _BASE["cache"] = dir_bytes(Path(os.environ["HF_DATASETS_CACHE"]))


def published(data: str, extractor: str, drop: list[str], check: list[str], out: Path, warm: bool) -> dict:
    from datasets import Audio, load_dataset
    from torch.utils.data import DataLoader
    from transformers import AutoFeatureExtractor, DataCollatorWithPadding

    if warm:  # loaded once before (its Arrow copy made): measure what preprocessing adds
        load_dataset(data, data_dir="all", split="train")
        _mark()
    start = time.perf_counter()
    gtzan = load_dataset(data, data_dir="all", split="train")
    if drop:  # the Hub's conversion has no undecodable row; the recipe would stop on one
        gtzan = gtzan.select([i for i, f in enumerate(gtzan["file"]) if f not in set(drop)])
    gtzan = gtzan.train_test_split(seed=42, shuffle=True, test_size=0.1)
    feature_extractor = AutoFeatureExtractor.from_pretrained(extractor, do_normalize=True, return_attention_mask=True)
    sampling_rate = feature_extractor.sampling_rate
    gtzan = gtzan.cast_column("audio", Audio(sampling_rate=sampling_rate))
    max_duration = 30.0
    files = {split: gtzan[split]["file"] for split in gtzan}

    def preprocess_function(examples):
        audio_arrays = [x["array"] for x in examples["audio"]]
        return feature_extractor(audio_arrays, sampling_rate=feature_extractor.sampling_rate,
                                 max_length=int(feature_extractor.sampling_rate * max_duration),
                                 truncation=True, return_attention_mask=True)

    encoded = gtzan.map(preprocess_function, remove_columns=["audio", "file"], batched=True, batch_size=100,
                        num_proc=1)
    encoded = encoded.rename_column("genre", "label")
    loader = DataLoader(encoded["train"], batch_size=BATCH, collate_fn=DataCollatorWithPadding(feature_extractor))
    first = next(iter(loader))
    to_first = time.perf_counter() - start
    if warm:
        return {"first_step_s": to_first}
    epoch = time.perf_counter()
    n = sum(len(batch["labels"]) for batch in loader)
    epoch = time.perf_counter() - epoch
    inputs = {}
    for split, names in files.items():
        for i, f in enumerate(names):
            if f in check:
                inputs[f] = encoded[split][i]["input_values"]
    _save_inputs(out, inputs)
    return {"first_step_s": to_first, "epoch_s": epoch, "train_clips": n,
            "batch_shape": list(first["input_values"].shape)}


def course(data: str, extractor: str, drop: list[str], check: list[str], out: Path, warm: bool) -> dict:
    from datasets import load_dataset  # imports outside the timed part, as in `published`
    from torch.utils.data import DataLoader
    from transformers import AutoFeatureExtractor  # noqa: F401

    from course_utils.preprocessing import undecoded
    from course_utils.train import dataset_source, load_config, prepare_data

    # Its own cache, like the recipe's: not the stand-in's shared one, which the model builds filled.
    cfg = load_config(profiles=[], overrides={"dataset": data, "model": extractor,
                                              "cache_dir": os.environ["HF_DATASETS_CACHE"]})
    if warm:
        load_dataset(**dataset_source(cfg), split=cfg.split)
        _mark()
    start = time.perf_counter()
    d = prepare_data(cfg, log=lambda s: None)
    loader = DataLoader(d.train, batch_size=BATCH, collate_fn=d.preprocessor.collate)
    first = next(iter(loader))
    to_first = time.perf_counter() - start
    if warm:
        return {"first_step_s": to_first}
    epoch = time.perf_counter()
    n = sum(len(batch["labels"]) for batch in loader)
    epoch = time.perf_counter() - epoch
    inputs, eager_diff = {}, 0.0
    for split in (d.train, d.eval):
        picked = [i for i, f in enumerate(split["file"]) if f in check]
        rows = split.select(picked)
        # The same preprocessor materialised with map (the eager way): must give the same numbers.
        eager = undecoded(rows).map(d.preprocessor, batched=True, remove_columns=rows.column_names,
                                    keep_in_memory=True)
        for j, i in enumerate(picked):
            inputs[split[i]["file"]] = on_the_fly = d.preprocessor.collate([split[i]])["input_values"][0].numpy()
            eager_diff = max(eager_diff, float(abs(on_the_fly - eager[j]["input_values"]).max()))
    _save_inputs(out, inputs)
    return {"eager_max_abs_diff": eager_diff, "first_step_s": to_first, "epoch_s": epoch, "train_clips": n,
            "batch_shape": list(first["input_values"].shape)}


def _save_inputs(out: Path, inputs: dict) -> None:
    import numpy as np

    np.savez(out / "inputs.npz", **{k: np.asarray(v, dtype=np.float32) for k, v in inputs.items()})


def child(args) -> None:
    from course_utils.training import configure_threads

    configure_threads(1)  # torch and numpy BLAS: one thread each
    out = Path(args.out)
    _mark()
    way = {"published": published, "course": course}[args.child]
    result = way(args.data, args.extractor, json.loads(args.drop), json.loads(args.check), out, args.warm)
    after, before = written_bytes(), _BASE["written"]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["written_mb"] = (after - before) / 1e6 if before is not None and after is not None else None
    result["cache_before_mb"] = _BASE["cache"] / 1e6
    (out / "result.json").write_text(json.dumps(result))


# --- the parent: run both, compare ----------------------------------------------------------------


def dataset_folder(size: str, data: str | None) -> tuple[Path | None, str]:
    from course_offline.store import revision_dir

    folder = Path(data) if data else revision_dir("marsyas/gtzan", size=size)
    label = f"{folder}" if data else f"gtzan stand-in, {size}"
    return (folder if folder.is_dir() else None), label


def run(size: str = "course", data: str | None = None) -> list[dict]:
    """Rows for the benchmark table (never raises for a missing stand-in: the row says so)."""
    folder, label = dataset_folder(size, data)
    if folder is None:
        return [{"bench": NAME, "measure": "-", "note": f"not run: {label} is not built "
                 f"(python -m course_offline build --only gtzan --size {size})"}]
    os.environ.setdefault("COURSE_MODE", "offline")
    tmp = Path(tempfile.mkdtemp(prefix="bench-prep-"))
    try:
        return _run(folder, label, tmp)
    finally:  # the recipe's cache is several GB at course size
        shutil.rmtree(tmp, ignore_errors=True)


def _run(folder: Path, label: str, tmp: Path) -> list[dict]:
    import numpy as np
    from datasets import load_dataset

    from course_utils.preprocessing import filter_decodable

    rows = load_dataset(str(folder), data_dir="all", split="train", cache_dir=str(tmp / "parent-cache"))
    good = filter_decodable(rows, "audio", "file", max_seconds=1.0)
    drop = sorted(set(rows["file"]) - set(good["file"]))
    check = good["file"][:CHECK_CLIPS]
    extractor = extractor_dir(tmp)
    results, warm = {}, {}
    for scenario in ("cold", "warm"):  # an empty cache; then one that holds the dataset's Arrow copy
        for way in ("published", "course"):
            out = tmp / f"{way}-{scenario}"
            out.mkdir()
            cache = out / "hf-cache"
            env = dict(os.environ, HF_DATASETS_CACHE=str(cache), OMP_NUM_THREADS="1")
            cmd = [sys.executable, __file__, "--child", way, "--data", str(folder), "--extractor", extractor,
                   "--drop", json.dumps(drop), "--check", json.dumps(check), "--out", str(out)]
            proc = subprocess.run(cmd + (["--warm"] if scenario == "warm" else []), env=env, capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                return [{"bench": NAME, "measure": "-", "note": f"{way} ({scenario} cache) failed: {tail[0]}"}]
            result = json.loads((out / "result.json").read_text())
            result["cache_mb"] = dir_bytes(cache) / 1e6 - result["cache_before_mb"]
            if scenario == "cold":
                result["inputs"] = dict(np.load(out / "inputs.npz"))
                results[way] = result
            else:
                warm[way] = result
            shutil.rmtree(cache, ignore_errors=True)  # the recipe's is several GB at course size
    p, c = results["published"], results["course"]
    both = [f for f in check if f in p["inputs"] and f in c["inputs"]]
    diffs = [float(np.abs(p["inputs"][f] - c["inputs"][f]).max()) for f in both]
    power = sum(float((p["inputs"][f].astype(np.float64) ** 2).sum()) for f in both)
    noise = sum(float(((p["inputs"][f] - c["inputs"][f]).astype(np.float64) ** 2).sum()) for f in both)
    snr = 10 * np.log10(power / noise) if noise else float("inf")
    note = f"{label}: {len(rows)} clips, {p['train_clips']} in the train epoch"

    def row(measure, base, ours, target=None, fmt="{:.1f}"):
        ratio = None  # times less (better) for the course; infinite where it adds nothing at all
        if base and ours is not None:
            ratio = base / ours if ours > 0.05 else float("inf")
        return {"bench": NAME, "measure": measure, "baseline": fmt.format(base) if base is not None else "n/a",
                "course": fmt.format(ours) if ours is not None else "n/a", "ratio": ratio, "target": target}

    pw, cw = warm["published"], warm["course"]
    out = [
        row("seconds to first training batch, empty cache", p["first_step_s"], c["first_step_s"], 5.0),
        row("  the same, dataset loaded before", pw["first_step_s"], cw["first_step_s"], 5.0),
        row("seconds per epoch (DataLoader pass)", p["epoch_s"], c["epoch_s"], 1.0),
        row("peak RSS (MB)", p["peak_rss_mb"], c["peak_rss_mb"], None, fmt="{:.0f}"),
        row("datasets cache, from empty (MB)", p["cache_mb"], c["cache_mb"], 4.0, fmt="{:.1f}"),
        row("  added, dataset loaded before (MB)", pw["cache_mb"], cw["cache_mb"], 4.0, fmt="{:.1f}"),
        row("bytes written, from empty (MB)", p["written_mb"], c["written_mb"], None, fmt="{:.1f}"),
        {"bench": NAME, "measure": f"inputs on the fly vs materialised (max abs diff, {len(both)} clips)",
         "baseline": "-", "course": f"{c['eager_max_abs_diff']:.1e}", "note": "same preprocessor, map() vs collate"},
        {"bench": NAME, "measure": "inputs, recipe vs course (max abs diff; SNR)", "baseline": "-",
         "course": f"{max(diffs):.2e}; {snr:.0f} dB" if diffs else "n/a",
         "note": "unit-variance inputs; only the resampler differs (recipe: torchcodec/FFmpeg, course: soxr HQ)"},
    ]
    out[0]["note"] = note
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="course", choices=["tiny", "course"])
    parser.add_argument("--data", default=None, help="a GTZAN-schema dataset folder instead of the stand-in")
    parser.add_argument("--child", choices=["published", "course"], help=argparse.SUPPRESS)
    parser.add_argument("--extractor", help=argparse.SUPPRESS)
    parser.add_argument("--drop", help=argparse.SUPPRESS)
    parser.add_argument("--check", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_all import print_table

    print_table(run(args.size, args.data))


if __name__ == "__main__":
    main()
