"""Stand-in for ``marsyas/gtzan``: procedural songs in ten genres, played by real sampled instruments.

Every clip is a song composed by ``_music.compose`` (its own tempo, key, patterns and General MIDI
programs), written as MIDI and rendered by fluidsynth (one subprocess per song) with one of the two
Debian soundfonts, then cut to an exact length from its first sound. One clip,
``jazz.00054.wav`` as in the real set, is deliberately undecodable.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import resource
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

from ._music import GENRES, compose
from .. import layout
from ._writer import write_card, write_split

REPO = layout.DATASETS["marsyas/gtzan"]

RATE = 22050
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
SIZES = {"tiny": (10, 5.0), "course": (100, 30.0)}  # clips per genre, seconds per clip
CORRUPT_INDEX = 54  # jazz.00054.wav is the corrupt file of the real GTZAN
WORKERS = 2


def features():
    from datasets import Audio, ClassLabel, Features, Value

    return Features({"file": Value("string"), "audio": Audio(sampling_rate=RATE), "genre": ClassLabel(names=GENRES)})


def missing_tools() -> list[str]:
    out = []
    if shutil.which("fluidsynth") is None:
        out.append("fluidsynth (Debian: apt-get install fluidsynth) renders the GTZAN stand-in's songs")
    for path, pkg in zip(SOUNDFONTS, ("fluid-soundfont-gm", "timgm6mb-soundfont")):
        if not Path(path).exists():
            out.append(f"{path} (Debian: apt-get install {pkg}) is one of the soundfonts the songs are played with")
    try:
        import pretty_midi  # noqa: F401
    except ImportError:
        out.append("pretty_midi (pip install pretty_midi) writes the songs as MIDI")
    return out


def _seed(seed: int, *parts) -> int:
    text = "/".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little")


def corrupt_bytes(seed: int) -> bytes:
    """A WAV header promising PCM audio, followed by bytes that are not: no decoder can read it."""
    rng = np.random.default_rng(_seed(seed, "corrupt"))
    junk = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return b"RIFF" + (4100).to_bytes(4, "little") + b"WAVE" + b"fmt " + (0xFFFFFFF0).to_bytes(4, "little") + junk


def render(job: dict) -> dict:
    """Compose and render one clip; returns ``{"file", "array"}`` or ``{"file", "error"}``, never raises."""
    name = job["file"]
    cpu = _cpu()
    try:
        rng = np.random.default_rng(job["seed"])
        pm, recipe = compose(job["genre"], job["seconds"], rng)
        font = job["soundfont"]
        if not Path(font).is_file():
            # fluidsynth would quietly fall back to its default soundfont: refuse instead.
            return {"file": name, "error": f"fluidsynth failed: soundfont {font} does not exist"}
        gain = float(rng.uniform(0.25, 0.5))
        reverb, chorus = rng.random() < 0.6, rng.random() < 0.4
        with tempfile.TemporaryDirectory(prefix="gtzan-") as tmp:
            mid, wav = Path(tmp) / "song.mid", Path(tmp) / "song.wav"
            pm.write(str(mid))
            cmd = ["fluidsynth", "-ni", "-q", "-o", "synth.dynamic-sample-loading=1", "-O", "float", "-T", "wav",
                   "-F", str(wav), "-r", str(RATE), "-g", f"{gain:.3f}",
                   "-R", str(int(reverb)), "-C", str(int(chorus)), font, str(mid)]
            proc = subprocess.run(cmd, capture_output=True, timeout=300)
            if proc.returncode != 0 or not wav.exists():
                tail = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                return {"file": name, "error": f"fluidsynth failed ({proc.returncode}): {tail[0]}"}
            audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
        return {"file": name, "array": fit(audio.mean(axis=1), rate, job["seconds"], rng), "recipe": recipe,
                "soundfont": Path(font).name, "cpu": _cpu() - cpu}
    except Exception as error:  # one bad render costs one clip
        return {"file": name, "error": f"{type(error).__name__}: {error}"}


def _cpu() -> float:
    """CPU seconds of this process and its finished subprocesses (fluidsynth)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def fit(mono: np.ndarray, rate: int, seconds: float, rng) -> np.ndarray:
    """Cut exactly ``seconds`` from the first sound (no silent lead-in or release tail); set the level."""
    if rate != RATE:
        raise ValueError(f"rendered at {rate} Hz, expected {RATE}")
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    if peak < 1e-4:
        raise ValueError("render is silent")
    start = int(np.argmax(np.abs(mono) > 0.02 * peak))
    need = int(round(seconds * RATE))
    clip = mono[start:start + need]
    if clip.size < need:
        raise ValueError(f"render too short: {clip.size / RATE:.1f} s of sound after the first onset, need {seconds} s")
    rms = float(np.sqrt(np.mean(clip.astype(np.float64) ** 2)))
    target = 10 ** (rng.uniform(-22, -14) / 20)  # loudness varies between recordings, as in the real set
    clip = clip * (target / max(rms, 1e-9))
    peak = float(np.abs(clip).max())
    if peak > 0.97:  # never clip: scale down rather than saturate
        clip = clip * (0.97 / peak)
    return clip.astype(np.float32)


def jobs(size: str, seed: int, per_genre: int | None = None, seconds: float | None = None, soundfonts=SOUNDFONTS):
    n, secs = SIZES[size]
    n, secs = per_genre or n, seconds or secs
    out = []
    for genre in GENRES:
        for i in range(n):
            s = _seed(seed, genre, i)
            out.append({"file": f"{genre}.{i:05d}.wav", "genre": genre, "index": i, "seconds": secs, "seed": s,
                        "soundfont": soundfonts[s % len(soundfonts)]})
    return out


def build(out_dir: Path, *, size: str, seed: int, log=print, per_genre: int | None = None,
          seconds: float | None = None, soundfonts=SOUNDFONTS, workers: int = WORKERS) -> dict:
    """Render every clip (``workers`` processes), write the ``all``/``train`` split and the card."""
    todo = jobs(size, seed, per_genre, seconds, soundfonts)
    n_per = len(todo) // len(GENRES)
    corrupt = f"jazz.{min(CORRUPT_INDEX, n_per - 1):05d}.wav"
    failed: list[str] = []
    counts: Counter = Counter()
    fonts: Counter = Counter()
    cpu: list[float] = []
    start = time.perf_counter()

    def results():
        mine = [j for j in todo if j["file"] != corrupt]
        ctx = multiprocessing.get_context("forkserver")
        with ctx.Pool(workers) if workers > 1 else _Serial() as pool:
            it = pool.imap(render, mine, chunksize=1)
            for job in todo:
                if job["file"] == corrupt:
                    yield {"file": corrupt, "corrupt": True}
                    continue
                yield next(it)

    def rows():
        for r in results():
            genre = r["file"].split(".")[0]
            if r.get("corrupt"):
                counts[genre] += 1
                yield {"file": r["file"], "audio": {"bytes": corrupt_bytes(seed), "path": r["file"]}, "genre": genre}
                continue
            if "error" in r:
                failed.append(f"{r['file']}: {r['error']}")
                log(f"[gtzan] skipped {r['file']}: {r['error']}")
                continue
            counts[genre] += 1
            fonts[r["soundfont"]] += 1
            cpu.append(r["cpu"])
            yield {"file": r["file"], "audio": {"array": r["array"], "sampling_rate": RATE, "path": r["file"]},
                   "genre": genre}

    total = write_split(out_dir, REPO, "all", "train", rows(), features())
    if total <= 1:  # only the corrupt row: the renderer is broken, not one song
        raise RuntimeError(f"no clip could be rendered; first failures: {failed[:3]}")
    seconds_taken = time.perf_counter() - start
    secs = todo[0]["seconds"]
    table = "\n".join(f"  {g:<10} {counts[g]:>4}" for g in GENRES)
    log(f"[gtzan] clips per genre ({secs:g} s each, {RATE} Hz):\n{table}\n  total {total}, failed {len(failed)}, "
        f"corrupt 1 ({corrupt}), soundfonts {dict(fonts)}")
    write_card(out_dir, REPO, _card(size, secs, counts, failed, corrupt, fonts))
    return {"rows": total, "per_genre": dict(counts), "failed": len(failed), "failures": failed[:20],
            "corrupt": corrupt, "clip_seconds": secs, "soundfonts": dict(fonts),
            "clips_per_s": round(total / max(seconds_taken, 1e-9), 2), "render_cpu_s": round(sum(cpu), 1)}


class _Serial:
    """Pool stand-in for ``workers=1``: same code path, no processes."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap(self, fn, items, chunksize=1):
        return map(fn, items)


def _card(size, secs, counts, failed, corrupt, fonts) -> str:
    table = "\n".join(f"| {g} | {counts[g]} |" for g in GENRES)
    return f"""
# GTZAN stand-in (locally made, NOT the real marsyas/gtzan)

A locally built stand-in for the Hub dataset `marsyas/gtzan` (config `all`, split `train`), with the
same columns (`file`, `audio` at {RATE} Hz, `genre` as a ClassLabel of the ten genres) so that the
course's code runs unchanged offline. It contains no real recordings of songs.

## How it was made
Each clip is a song composed by a procedural style generator for its genre (tempo range, swing,
drum pattern, chord progression, bass line, comping rhythm, lead motif, General MIDI instrument
pools; see `course_offline/builders/_music.py`), written as MIDI with `pretty_midi` and rendered by
`fluidsynth` with one of two real sampled-instrument soundfonts (FluidR3_GM and TimGM6mb, chosen per
song; used: {dict(fonts)}), with random reverb/chorus and gain. Genres share some instruments and
overlap in tempo, so that genre is carried by the music as a whole, not by one telltale sound. Each
render is cut to exactly {secs:g} s starting at its first sound (no silent lead-in or release tail),
and its loudness is set between -22 and -14 dBFS RMS without clipping.

## Size ({size})
| genre | clips |
|---|---|
{table}

{sum(counts.values())} rows, {secs:g} s each. Renders that failed and were left out: {len(failed)}.

## The corrupt file
As in the real GTZAN (whose `jazz.00054.wav` cannot be read), one row, `{corrupt}`, holds bytes that
are not decodable audio, so that loading code is shown handling it (`course_utils.load_audio` raises
`AudioDecodeError`). The real Hub conversion has 999 rows because it dropped that file.

## Licences of the sources
The songs are generated; the instrument samples come from FluidR3_GM (Frank Wen, MIT licence,
Debian `fluid-soundfont-gm`) and TimGM6mb (Tim Brechbill, GPL-2, Debian `timgm6mb-soundfont`).
"""
