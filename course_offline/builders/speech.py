"""Shared speech synthesis for the speech stand-ins (Speech Commands, MINDS-14, FLEURS).

Synthesizers are the Debian ``espeak-ng`` and ``flite``, each phrase in its own process:
espeak-ng called in-process crashed on long non-English text, and a process that dies costs one
item, never the build. flite runs as one command per phrase; espeak-ng phrases go to a
long-lived worker that forks a child per phrase (``_espeak``: the command's samples, without
the command's start-up, which was most of its CPU time).

espeak-ng silently falls back to its default voice on a misspelt language or variant, so
every voice is validated against the installed voice lists before it is used (``Voice.check``);
a clip whose voice is not installed fails like any other synthesis error: logged, counted,
skipped. All randomness (rate, pitch, gain, shift, noise) is drawn by the caller from a seeded
generator and travels inside the ``Job``, so a worker pool gives byte-identical output.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import scipy.fft
import soundfile as sf
import soxr

from . import _espeak

TIMEOUT_S = 30
# Variants that are not plausible speakers, or whose output fails the speech check.
EXCLUDED_VARIANTS = frozenset({"whisper", "whisperf", "fast"})
# flite's awb_time speaks only clock times.
EXCLUDED_FLITE = frozenset({"awb_time"})


class SynthesisError(RuntimeError):
    """One phrase could not be synthesised; the message names the voice, text and problem."""


# --- what is installed -------------------------------------------------------------------------


def missing_tools(need_flite: bool = True) -> list[str]:
    """Messages naming what to install; empty when the synthesizers are there."""
    out = []
    if shutil.which("espeak-ng") is None:
        out.append("espeak-ng not found: install the Debian package `espeak-ng` (apt-get install espeak-ng)")
    if need_flite and shutil.which("flite") is None:
        out.append("flite not found: install the Debian package `flite` (apt-get install flite)")
    return out


def _run(cmd: list[str], text: str | None = None) -> bytes:
    try:
        done = subprocess.run(cmd, input=text.encode() if text is not None else None,
                              capture_output=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SynthesisError(f"{cmd[0]}: {type(error).__name__}: {error}") from error
    if done.returncode != 0:
        msg = done.stderr.decode(errors="replace").strip()[:200]
        raise SynthesisError(f"{cmd[0]} exited with {done.returncode}: {msg}")
    return done.stdout


@functools.lru_cache(maxsize=None)
def espeak_languages() -> frozenset[str]:
    """Language voice names espeak-ng has installed (``en-us``, ``fr-fr`` ...)."""
    if shutil.which("espeak-ng") is None:
        return frozenset()
    lines = _run(["espeak-ng", "--voices"]).decode(errors="replace").splitlines()[1:]
    names = {line.split()[1].lower() for line in lines if len(line.split()) > 1}
    # and the other names a voice answers to, "(fr 5)": ``-v fr`` is French (France)
    names |= {m.lower() for line in lines for m in re.findall(r"\(([a-z]{2,3}(?:-[a-z0-9-]+)?) \d+\)", line)}
    return frozenset(names)


@functools.lru_cache(maxsize=None)
def honours_variants(name: str) -> bool:
    """Whether espeak-ng applies variants to the language voice ``name``. Some names do not:
    ``fr-fr+m3`` (and every other ``fr-fr+...``) is byte-identical to plain ``fr-fr``, so each of
    its "speakers" would be one voice, while ``fr+m3`` works."""
    plain = _probe(name)
    variants = [v for v in ("m3", "f2", "klatt") if v in espeak_variants()]
    return any(_probe(f"{name}+{v}") != plain for v in variants)


@functools.lru_cache(maxsize=None)
def espeak_variants() -> dict[str, str]:
    """``{variant: "M"|"F"}`` of installed espeak-ng variants (file names under ``!v/``)."""
    if shutil.which("espeak-ng") is None:
        return {}
    out = {}
    for line in _run(["espeak-ng", "--voices=variant"]).decode(errors="replace").splitlines()[1:]:
        m = re.search(r"\s\S*/([MF-])\s+\S.*?!v/(.+?)\s*(\(.*)?$", line)
        if m:
            out[m.group(2)] = m.group(1)
    return dict(sorted(out.items()))


@functools.lru_cache(maxsize=None)
def flite_voices() -> tuple[str, ...]:
    if shutil.which("flite") is None:
        return ()
    text = _run(["flite", "-lv"]).decode(errors="replace")
    return tuple(v for v in text.split(":", 1)[-1].split() if v)


@functools.lru_cache(maxsize=None)
def usable_variants() -> tuple[str, ...]:
    """Installed espeak-ng variants fit to be speakers, sorted by name.

    A variant espeak-ng cannot pass on a command line (a space in its name) or whose output is
    byte-identical to the default voice (a silent fallback) is left out."""
    def probe(variant: str | None) -> bytes:
        try:
            return _probe("en-us" + (f"+{variant}" if variant else ""))
        except SynthesisError:
            return b""
    default = probe(None)
    out = []
    for v in espeak_variants():
        if v in EXCLUDED_VARIANTS or re.search(r"\s", v):
            continue
        got = probe(v)
        if got and got != default:
            out.append(v)
    return tuple(out)


def usable_flite() -> list[str]:
    return [v for v in flite_voices() if v not in EXCLUDED_FLITE]


@dataclass(frozen=True)
class Voice:
    """A synthetic speaker: an espeak-ng language + variant, or a flite voice."""

    engine: str  # "espeak" or "flite"
    name: str  # espeak language voice ("en-us") or flite voice ("slt")
    variant: str | None = None  # espeak variant ("m3", "klatt2") or None for the default

    @property
    def id(self) -> str:
        """Readable speaker id without path separators: ``espeak-en-us-m3``, ``flite-slt``."""
        parts = [self.engine, self.name] + ([self.variant] if self.variant else [])
        return re.sub(r"[^A-Za-z0-9]+", "-", "-".join(parts)).strip("-")

    @property
    def gender(self) -> str:
        """``male``, ``female`` or ``other`` from the installed variant's listing."""
        if self.engine == "flite":
            return "female" if self.name == "slt" else "male"
        g = espeak_variants().get(self.variant or "", "M" if not self.variant else "-")
        return {"M": "male", "F": "female"}.get(g, "other")

    def check(self) -> None:
        """Raise ``SynthesisError`` unless this voice is installed (no silent fallback)."""
        if self.engine == "espeak":
            if self.name.lower() not in espeak_languages():
                raise SynthesisError(f"espeak-ng has no language voice {self.name!r}")
            if self.variant and self.variant not in espeak_variants():
                raise SynthesisError(f"espeak-ng has no variant {self.variant!r} (it would fall back silently)")
            if self.variant and not honours_variants(self.name):
                raise SynthesisError(f"espeak-ng ignores variants on the voice {self.name!r} ({self.name}+{self.variant} "
                                     "is the plain voice): name the language another way, e.g. 'fr' for 'fr-fr'")
        elif self.engine == "flite":
            if self.name not in flite_voices():
                raise SynthesisError(f"flite has no voice {self.name!r}")
        else:
            raise SynthesisError(f"unknown engine {self.engine!r}")


_local = threading.local()  # one espeak-ng worker per thread of ``run_jobs``


def _espeak_worker(name: str, wpm: int, pitch: int, text: str) -> tuple[np.ndarray, int] | None:
    """The ``espeak-ng`` command's output through a long-lived worker (``_espeak``), or None where
    no worker can run."""
    if getattr(_local, "espeak", False) is None:
        return None
    if not hasattr(_local, "espeak"):
        _local.espeak = _espeak.Worker(timeout_s=TIMEOUT_S)
    try:
        samples, sr = _local.espeak.synth(name, wpm, pitch, text)
    except _espeak.CannotStart:
        _local.espeak = None
        return None
    except _espeak.WorkerError as error:
        raise SynthesisError(f"espeak-ng ({name}): {error}") from error
    if not len(samples):  # the command writes nothing at all then
        raise SynthesisError(f"espeak-ng ({name}): no audio for {text[:40]!r}")
    return (samples / np.float32(32768)).astype(np.float32), sr  # as soundfile reads 16-bit PCM


def _read_wav(wav: bytes, who: str) -> tuple[np.ndarray, int]:
    try:
        audio, sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    except Exception as error:  # noqa: BLE001 - any decode failure costs this item only
        raise SynthesisError(f"{who}: unreadable output ({error})") from error
    return audio.mean(axis=1).astype(np.float32), int(sr)


def _espeak_samples(name: str, wpm: int, pitch: int, text: str) -> tuple[np.ndarray, int]:
    """``espeak-ng -v name -s wpm -p pitch`` on ``text``: through the worker, else the command."""
    out = _espeak_worker(name, wpm, pitch, text)
    if out is not None:
        return out
    return _read_wav(_run(["espeak-ng", "-v", name, "-s", str(wpm), "-p", str(pitch), "--stdout"], text), name)


def _probe(name: str) -> bytes:
    """espeak-ng's samples for a fixed phrase at its default rate (175) and pitch (50), as bytes to
    compare voices by; raises ``SynthesisError``."""
    return _espeak_samples(name, 175, 50, "testing one two")[0].tobytes()


def synthesize(text: str, voice: Voice, *, rate: float = 1.0, pitch: int = 50) -> tuple[np.ndarray, int]:
    """One phrase; returns (mono float32, rate). ``rate`` is relative speed (1 = default).
    espeak-ng phrases go to a long-lived worker (the command's samples at a third of its start-up
    cost), flite's to one subprocess each."""
    voice.check()
    if voice.engine == "espeak":
        name = voice.name + (f"+{voice.variant}" if voice.variant else "")
        return _espeak_samples(name, int(round(175 * rate)), int(pitch), text)
    stretch = f"{1.0 / rate:.3f}"
    wav = _run(["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch}",
                "-t", text, "-o", "/dev/stdout"])
    return _read_wav(wav, voice.id)


# --- signal helpers ---------------------------------------------------------------------------


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x.astype(np.float32, copy=False)
    return soxr.resample(x, sr_in, sr_out, quality="HQ").astype(np.float32)


def frame_db(x: np.ndarray, sr: int, frame_s: float = 0.02) -> np.ndarray:
    n = max(1, int(sr * frame_s))
    k = len(x) // n
    if k == 0:
        return np.array([-120.0])
    e = np.sqrt(np.mean(x[: k * n].reshape(k, n).astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(e + 1e-9)


def trim(x: np.ndarray, sr: int, below_peak_db: float = 40.0, pad_s: float = 0.01) -> np.ndarray:
    """Cut leading/trailing near-silence (frames more than ``below_peak_db`` under the loudest)."""
    db = frame_db(x, sr)
    on = np.flatnonzero(db > db.max() - below_peak_db)
    if on.size == 0:
        return x[:0]
    n = int(sr * 0.02)
    pad = int(sr * pad_s)
    return x[max(0, on[0] * n - pad): min(len(x), (on[-1] + 1) * n + pad)]


def active_seconds(x: np.ndarray, sr: int, floor_db: float = -45.0) -> float:
    """Seconds of 20-ms frames louder than ``floor_db`` dBFS and within 30 dB of the peak."""
    db = frame_db(x, sr)
    return float(np.sum((db > floor_db) & (db > db.max() - 30.0)) * 0.02)


def noise(kind: str, n: int, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Background noise of unit RMS: ``white``, ``pink``, ``brown``, ``hum`` or ``babble``-like."""
    if kind == "hum":
        t = np.arange(n) / sr
        f0 = rng.choice([50.0, 60.0])
        y = sum(rng.uniform(0.2, 1.0) / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) for h in range(1, 6))
        y = y + 0.05 * rng.standard_normal(n)
    elif kind == "white":
        y = rng.standard_normal(n)
    else:
        # Coloured noise is shaped in the frequency domain at a length the FFT factors well, then
        # cut to n: clip lengths are arbitrary and often have a large prime factor, where the FFT
        # is ~6x slower (the noise was the speech corpora's largest cost after the synthesizer).
        m = scipy.fft.next_fast_len(n, real=True)
        spec = scipy.fft.rfft(rng.standard_normal(m))
        f = np.fft.rfftfreq(m, 1 / sr)
        f[0] = f[1] if m > 1 else 1.0
        if kind == "pink":
            spec /= np.sqrt(f)
        elif kind == "brown":
            spec /= f
        else:  # "babble": speech-band noise with a slow syllable-rate envelope
            spec *= np.exp(-0.5 * ((np.log(f) - np.log(500.0)) / 0.8) ** 2)
        y = scipy.fft.irfft(spec, m)[:n]
        if kind == "babble":
            env = scipy.fft.irfft(scipy.fft.rfft(rng.standard_normal(m)) * (np.fft.rfftfreq(m, 1 / sr) < 4.0), m)[:n]
            y = y * (1.0 + 2.0 * np.abs(env) / (np.abs(env).max() + 1e-9))
    y = np.asarray(y, dtype=np.float64)
    return (y / (np.sqrt(np.mean(y**2)) + 1e-12)).astype(np.float32)


NOISE_KINDS = ("white", "pink", "brown", "hum", "babble")


# --- quality -----------------------------------------------------------------------------------


def check_clip(x: np.ndarray, sr: int, *, speech_s: float | None = 0.1) -> str | None:
    """The problem with a finished clip, or ``None``: finite, non-silent, not clipped and (when
    ``speech_s``) at least that many seconds of speech-level frames."""
    if x.size == 0:
        return "empty"
    if not np.isfinite(x).all():
        return "non-finite samples"
    peak = float(np.abs(x).max())
    if peak >= 0.999:
        return f"clipped (peak {peak:.3f})"
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    if rms < 1e-3:
        return f"silent (rms {rms:.2e})"
    if speech_s is not None:
        act = active_seconds(x, sr)
        if act < speech_s:
            return f"no speech ({act:.2f} s active < {speech_s} s)"
    return None


# --- jobs and the pool -------------------------------------------------------------------------


@dataclass
class Job:
    """Everything needed to render one clip; ``meta`` is passed through to the row."""

    text: str
    voice: Voice
    sr: int
    seed: int
    rate: float = 1.0
    pitch: int = 50
    speed: float = 1.0  # resampling speed perturbation (changes tempo and pitch together)
    peak_db: float = -3.0
    noise_kind: str | None = None
    snr_db: float = 30.0
    length_s: float | None = None  # fixed clip length (word placed at a random offset), else natural
    lead_s: tuple[float, float] = (0.05, 0.3)  # silence before/after a natural-length clip
    min_speech_s: float = 0.1
    meta: dict = field(default_factory=dict)


@dataclass
class Result:
    job: Job
    audio: np.ndarray | None
    problem: str | None = None


def render(job: Job) -> Result:
    """Synthesise and augment one clip; never raises (a failure is returned as ``problem``)."""
    try:
        raw, sr = synthesize(job.text, job.voice, rate=job.rate, pitch=job.pitch)
        # speed perturbation: play the samples back at speed x
        x = resample(raw, int(round(sr * job.speed)), job.sr)
        x = trim(x, job.sr)
        speech = active_seconds(x, job.sr)
        if speech < job.min_speech_s:
            return Result(job, None, f"no speech from synthesizer ({speech:.2f} s active)")
        rng = np.random.default_rng(job.seed)
        if job.length_s is not None:
            n = int(round(job.length_s * job.sr))
            if len(x) > int(0.98 * n):  # too slow to fit: speed it up just enough
                x = resample(x, len(x), int(0.95 * n))
            out = np.zeros(n, np.float32)
            start = int(rng.integers(0, n - len(x) + 1))
            out[start: start + len(x)] = x
        else:
            a, b = (int(job.sr * rng.uniform(*job.lead_s)) for _ in range(2))
            out = np.concatenate([np.zeros(a, np.float32), x, np.zeros(b, np.float32)])
        out = _level(out, job, rng)
    except SynthesisError as error:
        return Result(job, None, str(error))
    except Exception as error:  # noqa: BLE001 - one bad item never ends the build
        return Result(job, None, f"{type(error).__name__}: {error}")
    problem = check_clip(out, job.sr, speech_s=None)
    return Result(job, None if problem else out, problem)


def render_noise(job: Job) -> Result:
    """A background-noise-only clip (Speech Commands' ``_silence_``)."""
    rng = np.random.default_rng(job.seed)
    n = int(round((job.length_s or 1.0) * job.sr))
    try:
        y = noise(job.noise_kind or "pink", n, rng, job.sr)
    except Exception as error:  # noqa: BLE001 - one bad item never ends the build
        return Result(job, None, f"{type(error).__name__}: {error}")
    y = y / (np.abs(y).max() + 1e-9) * 10 ** (job.peak_db / 20)
    problem = check_clip(y, job.sr, speech_s=None)
    return Result(job, None if problem else y.astype(np.float32), problem)


def _level(x: np.ndarray, job: Job, rng: np.random.Generator) -> np.ndarray:
    peak = float(np.abs(x).max()) + 1e-9
    x = x / peak
    if job.noise_kind:
        sig_rms = float(np.sqrt(np.mean(x[np.abs(x) > 0.02] ** 2))) if np.any(np.abs(x) > 0.02) else 0.1
        x = x + noise(job.noise_kind, len(x), rng, job.sr) * sig_rms * 10 ** (-job.snr_db / 20)
        x = x / (float(np.abs(x).max()) + 1e-9)
    return (x * 10 ** (job.peak_db / 20)).astype(np.float32)


def workers() -> int:
    return max(1, int(os.environ.get("COURSE_BUILD_WORKERS", "2")))


def run_jobs(jobs: Iterable[Job], fn: Callable[[Job], Result] = render) -> Iterator[Result]:
    """Render jobs on a small thread pool (the work is in subprocesses and numpy), in job order."""
    jobs = list(jobs)
    if workers() == 1:
        yield from map(fn, jobs)
        return
    with ThreadPoolExecutor(workers()) as pool:
        # bounded look-ahead keeps memory flat while preserving order
        window = []
        it = iter(jobs)
        for job in it:
            window.append(pool.submit(fn, job))
            if len(window) >= 4 * workers():
                yield window.pop(0).result()
        for fut in window:
            yield fut.result()


class Tally:
    """Counts of written and skipped clips, for the summary and the printed tables."""

    def __init__(self) -> None:
        self.written: dict[str, Counter] = defaultdict(Counter)  # split -> label -> n
        self.speakers: dict[str, Counter] = defaultdict(Counter)  # split -> speaker -> n
        self.skipped: Counter = Counter()  # problem kind -> n
        self.examples: list[str] = []

    def ok(self, split: str, label: str, speaker: str) -> None:
        self.written[split][label] += 1
        self.speakers[split][speaker] += 1

    def skip(self, res: Result, log: Callable[[str], None]) -> None:
        kind = re.sub(r"[\d.]+", "#", (res.problem or "unknown").split(":")[0])[:60]
        self.skipped[kind] += 1
        msg = f"[skip] {res.job.voice.id} {res.job.text[:50]!r}: {res.problem}"
        if len(self.examples) < 20:
            self.examples.append(msg)
        log(msg)

    def summary(self) -> dict:
        total = sum(sum(c.values()) for c in self.written.values())
        return {
            "clips": total,
            "splits": {s: sum(c.values()) for s, c in self.written.items()},
            "speakers": {s: len(c) for s, c in self.speakers.items()},
            "skipped": sum(self.skipped.values()),
            "skipped_by_problem": dict(self.skipped),
        }

    def skipped_text(self) -> str:
        """``"3 (no speech from synthesizer: 2; clipped: 1)"`` or ``"none"``."""
        total = sum(self.skipped.values())
        if not total:
            return "none"
        return f"{total} (" + "; ".join(f"{k}: {n}" for k, n in sorted(self.skipped.items())) + ")"

    def tables(self, label_order: list[str] | None = None) -> str:
        """Markdown tables: clips per label and split; speakers and clips per speaker per split."""
        splits = list(self.written)
        labels = label_order or sorted({k for c in self.written.values() for k in c})
        lines = ["| label | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
        for lab in labels:
            lines.append(f"| {lab} | " + " | ".join(str(self.written[s][lab]) for s in splits) + " |")
        lines.append("| **total** | " + " | ".join(str(sum(self.written[s].values())) for s in splits) + " |")
        lines += ["", "| split | speakers | clips per speaker (min / median / max) |", "|---|---|---|"]
        for s in splits:
            v = sorted(self.speakers[s].values()) or [0]
            lines.append(f"| {s} | {len(self.speakers[s])} | {v[0]} / {v[len(v) // 2]} / {v[-1]} |")
        return "\n".join(lines)

    def speaker_lists(self) -> str:
        """Which speakers are in which split (each a comma-separated list, with clip counts)."""
        out = []
        for s, c in self.speakers.items():
            out.append(f"**{s}** ({len(c)} speakers): " + ", ".join(f"`{k}` ({n})" for k, n in sorted(c.items())))
        return "\n\n".join(out)


def split_names(names: list[str], fractions: dict[str, float], rng: np.random.Generator) -> dict[str, list[str]]:
    """Partition ``names`` into disjoint groups by the given fractions (each group non-empty)."""
    order = [names[i] for i in rng.permutation(len(names))]
    keys = list(fractions)
    total = sum(fractions.values())
    out: dict[str, list[str]] = {}
    start = 0
    for i, key in enumerate(keys):
        left = len(keys) - i - 1
        if i == len(keys) - 1:
            n = len(order) - start
        else:
            n = max(1, int(round(len(order) * fractions[key] / total)))
            n = min(n, len(order) - start - left)
        out[key] = sorted(order[start: start + n])
        start += n
    return out


def encode_flac(x: np.ndarray, sr: int) -> bytes:
    """16-bit FLAC bytes (about half the size of WAV for speech); deterministic."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(x, dtype=np.float32), sr, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


SOURCES_LICENCE = (
    "Synthesised with espeak-ng (GPL-3.0-or-later; its voice data are GPL) and flite (BSD-style "
    "licence, CMU/Edinburgh voices). The generated audio is machine output, not a copy of any "
    "recording; the course distributes only the builder code, and every learner generates the data locally."
)
