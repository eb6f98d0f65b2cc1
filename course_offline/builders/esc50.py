"""Stand-in for ``ashraq/esc50``: 5-second environmental sound clips in as many ESC-50 categories
as can be made honestly offline.

Sources are real recordings: the sound effects of Debian's ``tuxpaint-stamps-default`` and the
sampled sound-effect instruments of the two General MIDI soundfonts (sea shore, bird tweet,
helicopter, applause, bells); procedural sound (``_sfx``) is used only for noise-like or tonal
sounds it models well. Each source recording yields several clips (crops, speed/pitch change,
gain, reverb, background noise); all clips of one source (one ``src_file``) share one fold.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from . import _sfx
from .. import layout
from ._writer import write_card, write_split

REPO = layout.DATASETS["ashraq/esc50"]

RATE = _sfx.RATE
SECONDS = 5.0
STAMPS = Path("/usr/share/tuxpaint/stamps")
FLUID, TIM = "/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2"
SIZES = {"tiny": 5, "course": 40}  # clips per category (the real set has 40)
FOLDS = 5
# Fold 5 holds the source recordings that zero-shot evaluation (the CLAP stand-in, notebook 04)
# keeps out of training.
HELDOUT_FOLD = 5
HAND_CLAP = 39  # General MIDI percussion key

# The 50 ESC-50 categories in target-id order, and the ESC-10 subset.
CATEGORIES = [
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind", "pouring_water",
    "toilet_flush", "thunderstorm",
    "crying_baby", "sneezing", "clapping", "breathing", "coughing", "footsteps", "laughing", "brushing_teeth",
    "snoring", "drinking_sipping",
    "door_wood_knock", "mouse_click", "keyboard_typing", "door_wood_creaks", "can_opening", "washing_machine",
    "vacuum_cleaner", "clock_alarm", "clock_tick", "glass_breaking",
    "helicopter", "chainsaw", "siren", "car_horn", "engine", "train", "church_bells", "airplane", "fireworks",
    "hand_saw",
]
ESC10 = {"dog", "rooster", "rain", "sea_waves", "crackling_fire", "crying_baby", "sneezing", "clock_tick",
         "helicopter", "chainsaw"}


@dataclass(frozen=True)
class Source:
    """One source recording: a tuxpaint sound file, a soundfont instrument, or a procedural take."""

    category: str
    name: str  # unique; decides src_file
    kind: str  # "file" | "sf2" | "proc"
    ref: str = ""  # file path, or soundfont path
    program: tuple[int, int] = (0, 0)  # (bank, program) for sf2
    pattern: str = "hold"  # sf2: hold | tweets | peal | claps
    mode: str = "scatter"  # scatter (events with gaps) | fill (continuous)
    events: tuple[int, int] = (1, 3)


def _stamp(cat, rel, mode="scatter", events=(1, 3)):
    return Source(cat, f"tuxpaint:{rel}", "file", str(STAMPS / rel), mode=mode, events=events)


def _font(cat, font, bank, prog, pattern="hold"):
    name = f"{Path(font).stem}:{bank}:{prog}"
    return Source(cat, f"sf2:{name}", "sf2", font, (bank, prog), pattern, mode="fill")


def _proc(cat, k):
    return Source(cat, f"proc:{cat}:{k}", "proc", mode="fill")


def catalogue() -> list[Source]:
    """Every source recording, by category."""
    m = "animals/mammals"
    out = [
        _stamp("dog", f"{m}/dogs/dog.ogg", events=(2, 5)),
        _stamp("rooster", "animals/birds/rooster.ogg", events=(1, 2)),
        *[_stamp("pig", f"{m}/{p}.ogg", events=(2, 5)) for p in ("pig", "pig_golden", "pig_golden2")],
        *[_stamp("cow", f"{m}/bovines/{p}.ogg", events=(1, 2)) for p in ("cow", "cow_white", "bull")],
        _stamp("frog", "animals/amphibians/frog.ogg", events=(2, 4)),
        _stamp("cat", "seasonal/halloween/blackcat.ogg", events=(1, 3)),
        _stamp("hen", "animals/birds/hen.ogg", events=(1, 3)),
        *[_stamp("insects", f"animals/insects/{p}.ogg", mode="fill") for p in ("bee", "hornet", "mosquito")],
        *[_stamp("sheep", f"{m}/bovines/{p}.ogg", events=(1, 3)) for p in ("sheep", "sheep_lamb", "ram")],
        _stamp("crow", "animals/birds/crow.ogg", events=(1, 3)),
        _stamp("chirping_birds", "animals/birds/blackbird.ogg", mode="fill"),
        _stamp("chirping_birds", "animals/birds/lark.ogg", events=(2, 4)),
        _font("chirping_birds", FLUID, 0, 123, "tweets"),
        _font("chirping_birds", TIM, 0, 123, "tweets"),
        _stamp("crickets", "animals/insects/grasshopper.ogg", mode="fill"),
        _stamp("toilet_flush", "household/toilet.ogg", events=(1, 1)),
        _stamp("thunderstorm", "naturalforces/lightningbolt.ogg", events=(1, 1)),
        _stamp("washing_machine", "household/Washing-machine.ogg", mode="fill"),
        _stamp("vacuum_cleaner", "household/vacuum_cleaner.ogg", mode="fill"),
        _stamp("siren", "vehicles/emergency/firetruck.ogg", mode="fill"),
        _stamp("fireworks", "seasonal/newyears/fireworks.ogg", events=(2, 4)),
        _stamp("hand_saw", "household/tools/saw.ogg", events=(2, 4)),
        _font("sea_waves", FLUID, 0, 122), _font("sea_waves", TIM, 0, 122),
        _font("helicopter", FLUID, 0, 125), _font("helicopter", TIM, 0, 125),
        _font("clapping", FLUID, 0, 126), _font("clapping", TIM, 0, 126),
        # hand claps sampled in the drum kits (Standard and Jazz differ in FluidR3)
        *[_font("clapping", f, 128, k, "claps") for f, k in ((FLUID, 0), (FLUID, 32), (TIM, 0))],
        _font("church_bells", FLUID, 8, 14, "peal"), _font("church_bells", FLUID, 0, 14, "peal"),
        _font("church_bells", TIM, 0, 14, "peal"),
    ]
    # Procedural takes: five for sounds made only this way (one per fold), two to widen mixed ones.
    for cat in ("rain", "wind", "crackling_fire", "water_drops", "clock_tick", "clock_alarm", "engine"):
        out += [_proc(cat, k) for k in range(FOLDS)]
    for cat in ("sea_waves", "crickets", "siren", "thunderstorm", "helicopter"):
        out += [_proc(cat, k) for k in range(2)]
    return out


def missing_tools() -> list[str]:
    out = []
    if not STAMPS.is_dir():
        out.append(f"{STAMPS} (Debian: apt-get install tuxpaint-stamps-default) holds the real recordings")
    if shutil.which("fluidsynth") is None:
        out.append("fluidsynth (Debian: apt-get install fluidsynth) renders the soundfont sound effects")
    for path, pkg in ((FLUID, "fluid-soundfont-gm"), (TIM, "timgm6mb-soundfont")):
        if not Path(path).exists():
            out.append(f"{path} (Debian: apt-get install {pkg})")
    return out


def features():
    from datasets import Audio, Features, Value

    return Features({
        "filename": Value("string"), "fold": Value("int64"), "target": Value("int64"), "category": Value("string"),
        "esc10": Value("bool"), "src_file": Value("int64"), "take": Value("string"), "audio": Audio(),
    })


def _seed(seed: int, *parts) -> int:
    text = "/".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little")


def src_id(name: str) -> int:
    """A stable six-digit id per source recording, like the Freesound ids of the real set."""
    return 100000 + int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little") % 900000


def take_name(k: int) -> str:
    letters = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        letters = chr(65 + r) + letters
    return letters


# --- loading / rendering one source recording --------------------------------------------------


def load_source(src: Source, seed: int) -> np.ndarray:
    """The source recording as float64 mono at 44.1 kHz; raises with the file and problem named."""
    if src.kind == "file":
        path = Path(src.ref)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such source file")
        audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
        x = _sfx.trim(_sfx.to_rate(audio.mean(axis=1), rate))
    elif src.kind == "sf2":
        x = _sfx.trim(_render_sf2(src, np.random.default_rng(_seed(seed, src.name))))
    else:
        fn = _sfx.PROCEDURAL[src.category]
        x = fn(np.random.default_rng(_seed(seed, src.name)), 12.0)
    if x.size < RATE // 20 or not np.isfinite(x).all() or np.abs(x).max() < 1e-5:
        raise ValueError(f"{src.ref or src.name}: source holds no usable sound")
    return x / np.abs(x).max()


def render_clip(rng, base: np.ndarray, src: Source) -> np.ndarray:
    """One 5-second clip of a source recording, as the corpus makes them (float64 at RATE)."""
    return _sfx.level(rng, _sfx.clip_from(rng, base, src.mode, SECONDS, src.events))


def _render_sf2(src: Source, rng, seconds: float = 12.0) -> np.ndarray:
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    tick = lambda s: int(round(s * 2 * 480))  # 120 bpm: one second is two beats
    bank, prog = src.program
    # General MIDI plays drum kits (the soundfonts' bank 128) on channel 10; a kit is chosen by program.
    channel = 9 if bank == 128 else 0
    if channel == 0:
        track.append(mido.Message("control_change", control=0, value=bank))
    track.append(mido.Message("program_change", program=prog, channel=channel))
    notes: list[tuple[float, float, int, int]] = []
    if src.pattern == "hold":
        notes = [(0.0, seconds, 60, 110)]
    elif src.pattern == "tweets":
        t = 0.0
        while t < seconds:
            d = rng.uniform(0.1, 0.6)
            notes.append((t, d, int(rng.integers(60, 80)), int(rng.integers(70, 120))))
            t += d + rng.uniform(0.0, 0.5)
    elif src.pattern == "claps":  # one to four people clapping, each at their own steady pace
        for _ in range(int(rng.integers(1, 5))):
            t, pace = rng.uniform(0, 0.3), rng.uniform(0.18, 0.4)
            while t < seconds:
                notes.append((t, 0.1, HAND_CLAP, int(rng.integers(70, 120))))
                t += pace * rng.uniform(0.93, 1.07)
    else:  # peal: a ring of bells struck in changing order
        ring = sorted(rng.choice([55, 57, 59, 60, 62, 64, 65, 67], int(rng.integers(4, 7)), replace=False))[::-1]
        t, gap = 0.0, rng.uniform(0.35, 0.8)
        while t < seconds:
            for p in rng.permutation(ring):
                notes.append((t, 2.5, int(p), int(rng.integers(80, 120))))
                t += gap
    events = []
    for start, dur, pitch, vel in notes:
        events += [(tick(start), 1, pitch, vel), (tick(min(start + dur, seconds)), 0, pitch, 0)]
    now = 0
    for at, on, pitch, vel in sorted(events, key=lambda e: (e[0], e[1])):
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=vel, time=at - now, channel=channel))
        now = at
    if not Path(src.ref).is_file():  # fluidsynth would quietly use its default soundfont instead
        raise FileNotFoundError(f"{src.ref}: no such soundfont")
    with tempfile.TemporaryDirectory(prefix="esc50-") as tmp:
        mpath, wpath = Path(tmp) / "s.mid", Path(tmp) / "s.wav"
        mid.save(str(mpath))
        cmd = ["fluidsynth", "-ni", "-q", "-O", "float", "-T", "wav", "-F", str(wpath), "-r", str(RATE),
               "-g", "0.5", "-R", "0", "-C", "0", src.ref, str(mpath)]
        proc = subprocess.run(cmd, capture_output=True, timeout=120)
        if proc.returncode != 0 or not wpath.exists():
            why = proc.stderr.decode(errors="replace")[-200:]
            raise RuntimeError(f"fluidsynth failed on {src.ref} {src.program}: {why}")
        audio, _ = sf.read(str(wpath), dtype="float64", always_2d=True)
    return audio.mean(axis=1)


# --- the build ------------------------------------------------------------------------------------


def plan(sources: list[Source], per_category: int, seed: int) -> list[dict]:
    """Clips per source and the fold of each source (all clips of a source in one fold)."""
    by_cat: dict[str, list[Source]] = defaultdict(list)
    for s in sources:
        by_cat[s.category].append(s)
    jobs = []
    for cat in CATEGORIES:
        group = by_cat.get(cat)
        if not group:
            continue
        rng = np.random.default_rng(_seed(seed, "folds", cat))
        group = [group[i] for i in rng.permutation(len(group))]
        # Sources go round the folds from a random one. A lone source cannot be both trained on
        # and held out, so it never goes into the held-out fold.
        folds = [f for f in range(1, FOLDS + 1) if len(group) > 1 or f != HELDOUT_FOLD]
        offset = int(rng.integers(len(folds)))
        for i, src in enumerate(group):
            n = per_category // len(group) + (i < per_category % len(group))
            if n:
                jobs.append({"source": src, "fold": folds[(offset + i) % len(folds)], "clips": n})
    return jobs


def build(out_dir: Path, *, size: str, seed: int, log=print, sources: list[Source] | None = None) -> dict:
    """Make every clip and write the ``default``/``train`` split with the card."""
    per_category = SIZES[size]
    jobs = plan(sources if sources is not None else catalogue(), per_category, seed)
    failed: list[str] = []
    counts: Counter = Counter()
    src_count: Counter = Counter()
    kinds: dict[str, Counter] = defaultdict(Counter)
    folds_of: dict[str, set] = defaultdict(set)
    start = time.perf_counter()

    def clips():
        # The real set is ordered by file name (fold, then source); so is this one, streamed.
        for job in sorted(jobs, key=lambda j: (j["fold"], src_id(j["source"].name))):
            yield from sorted(source_clips(job), key=lambda item: item[0])

    def source_clips(job):
        src = job["source"]
        try:
            base = load_source(src, seed)
        except Exception as error:  # one unreadable source costs its clips, not the build
            failed.append(f"{src.name}: {error}")
            log(f"[esc50] skipped source {src.name} ({job['clips']} clips): {error}")
            return
        sid = src_id(src.name)
        src_count[src.category] += 1
        kinds[src.category][src.kind] += 1
        folds_of[src.category].add(job["fold"])
        for k in range(job["clips"]):
            rng = np.random.default_rng(_seed(seed, src.name, k))
            try:
                audio = render_clip(rng, base, src)
            except Exception as error:
                failed.append(f"{src.name}#{k}: {error}")
                log(f"[esc50] skipped clip {k} of {src.name}: {error}")
                continue
            target = CATEGORIES.index(src.category)
            take = take_name(k)
            name = f"{job['fold']}-{sid}-{take}-{target}.wav"
            counts[src.category] += 1
            yield name, {"filename": name, "fold": job["fold"], "target": target, "category": src.category,
                         "esc10": src.category in ESC10, "src_file": sid, "take": take,
                         "audio": {"array": audio, "sampling_rate": RATE, "path": name}}

    total = write_split(out_dir, REPO, "default", "train", (row for _, row in clips()), features())
    seconds = time.perf_counter() - start
    present = [c for c in CATEGORIES if counts[c]]
    table = "\n".join(f"  {CATEGORIES.index(c):>2} {c:<16} {counts[c]:>3} clips  {src_count[c]} sources "
                      f"({', '.join(f'{n} {k}' for k, n in sorted(kinds[c].items()))})  folds {sorted(folds_of[c])}"
                      for c in present)
    log(f"[esc50] {len(present)} of 50 categories, {total} clips ({SECONDS:g} s, {RATE} Hz), "
        f"failed {len(failed)}:\n{table}")
    write_card(out_dir, REPO, _card(size, present, counts, src_count, kinds, folds_of, failed))
    return {"rows": total, "categories": len(present), "per_category": {c: counts[c] for c in present},
            "sources": {c: src_count[c] for c in present}, "failed": len(failed), "failures": failed[:20],
            "clips_per_s": round(total / max(seconds, 1e-9), 2)}


def _card(size, present, counts, src_count, kinds, folds_of, failed) -> str:
    rows = "\n".join(
        f"| {CATEGORIES.index(c)} | {c} | {'yes' if c in ESC10 else ''} | {counts[c]} | {src_count[c]} | "
        f"{', '.join(f'{n} {k}' for k, n in sorted(kinds[c].items()))} | {', '.join(map(str, sorted(folds_of[c])))} |"
        for c in present)
    absent = ", ".join(c for c in CATEGORIES if c not in present)
    return f"""
# ESC-50 stand-in (locally made, NOT the real ashraq/esc50)

A locally built stand-in for the Hub dataset `ashraq/esc50` (split `train`), with the same columns
(`filename`, `fold`, `target`, `category`, `esc10`, `src_file`, `take`, `audio`), the real
category names, `target` ids and `esc10` flags, 5-second clips at {RATE} Hz, and file names in the
real pattern `{{fold}}-{{src_file}}-{{take}}-{{target}}.wav`. It is much smaller and easier than
the real set and holds only {len(present)} of the 50 categories.

## How it was made
Each clip derives from one *source recording*:
- **file**: a real recording from Debian's `tuxpaint-stamps-default` (`/usr/share/tuxpaint/stamps`,
  the stamps' sound effects, never the spoken `*_desc_*` descriptions);
- **sf2**: a real sampled sound-effect instrument of a General MIDI soundfont (Sea Shore, Bird
  Tweet, Helicopter, Applause, Church Bell / Tubular Bells) played by `fluidsynth`;
- **proc**: procedural sound (`course_offline/builders/_sfx.py`), only for sounds that shaped noise or
  simple tones model well (rain, wind, surf, fire, water drops, clock tick, alarm beeps, engine,
  crickets, sirens, thunder).

A source yields several clips: random crops or repeats of its events with gaps, speed change
(0.88-1.14, pitch moves with it), per-event gain, reverb (half the clips), background noise at
12-35 dB SNR (60 %), and a random peak level between -12 and -1 dBFS. `take` letters number the
clips of one source.

## Folds
All clips of one source recording (one `src_file`) are in the same fold, so no fold shares a
source's derivatives with another. Within a category the sources are shuffled (seeded) and dealt
to consecutive folds from a random starting fold. A category with fewer than five sources is
therefore missing from some folds; with a single source it lives in one fold only (see the table),
and never in fold {HELDOUT_FOLD}: that fold is the one held out for zero-shot tests on source
recordings a model never heard, and a lone source cannot be both trained on and held out.
To test on unseen recordings, hold out whole folds or whole `src_file` groups.

## Categories present ({size} size)
| target | category | esc10 | clips | sources | source kinds | folds |
|---|---|---|---|---|---|---|
{rows}

Absent (no honest source offline): {absent}.

Sources that could not be read and were left out: {len(failed)}.

## Licences of the sources
Tux Paint stamps sounds: GPL-2 (Debian `tuxpaint-stamps-default`, Bill Kendrick and contributors).
FluidR3_GM soundfont: MIT (Frank Wen). TimGM6mb soundfont: GPL-2 (Tim Brechbill). Procedural
sounds are generated by this project.
"""
