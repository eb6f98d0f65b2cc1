"""Stand-in for ``google/speech_commands`` v0.02: 35 spoken words plus ``_silence_``, synthesised.

Same columns, feature types, label names and order, config (``v0.02``) and splits as the Hub
dataset. Speakers are synthetic voices (an espeak-ng English accent + variant, or a flite voice);
the splits share no voice *variant*, so validation and test measure generalisation to voices never
heard in training, as the real dataset's speaker-disjoint splits do.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
from datasets import Audio, ClassLabel, Features, Value

from . import speech
from .. import layout
from ._writer import write_card, write_split

REPO = layout.DATASETS["google/speech_commands"]

CONFIG = "v0.02"
SR = 16000
WORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
UNKNOWN_WORDS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "backward", "forward", "follow", "learn", "visual",
]
SILENCE = "_silence_"
LABELS = WORDS + UNKNOWN_WORDS + [SILENCE]

FEATURES = Features(
    {
        "file": Value("string"),
        "audio": Audio(sampling_rate=SR),
        "label": ClassLabel(names=LABELS),
        "is_unknown": Value("bool"),
        "speaker_id": Value("string"),
        "utterance_id": Value("int8"),
    }
)

# British English is "en": espeak-ng ignores variants on "en-gb" (every speaker would be one voice).
ACCENTS = ["en-us", "en-us-nyc", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029"]
FLITE_SPLIT = {"train": ["kal", "kal16", "slt"], "validation": ["awb"], "test": ["rms"]}
SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}
# clips per label and split
SIZES = {
    "tiny": {"train": 20, "validation": 2, "test": 2},
    "course": {"train": 400, "validation": 50, "test": 50},
}
FLITE_SHARE = 0.12
# Text given to the synthesizer: names capitalised, "wow" as an exclamation.
SAY = {"sheila": "Sheila", "marvin": "Marvin", "wow": "wow!"}


def missing_tools() -> list[str]:
    return speech.missing_tools(need_flite=False)


def voices_by_split(seed: int) -> dict[str, list[speech.Voice]]:
    """Disjoint voices per split: espeak variants are partitioned, every accent is in every split."""
    rng = np.random.default_rng([seed, 1])
    parts = speech.split_names(list(speech.usable_variants()), SPLITS, rng)
    accents = [a for a in ACCENTS if a in speech.espeak_languages()]
    flite = set(speech.usable_flite())
    out = {}
    for split, variants in parts.items():
        vs = [speech.Voice("espeak", a, v) for v in variants for a in accents]
        vs += [speech.Voice("flite", f) for f in FLITE_SPLIT[split] if f in flite]
        out[split] = vs
    return out


def plan(split: str, voices: list[speech.Voice], per_label: int, seed: int) -> list[speech.Job]:
    """Seeded jobs for one split: each word ``per_label`` times, voices cycled for balance."""
    rng = np.random.default_rng([seed, 2, list(SPLITS).index(split)])
    espeak = [v for v in voices if v.engine == "espeak"]
    flite = [v for v in voices if v.engine == "flite"]
    jobs = []
    repeats: Counter = Counter()
    for label in LABELS:
        order = [espeak[i] for i in rng.permutation(len(espeak))]
        for i in range(per_label):
            seed_i = int(rng.integers(2**31))
            noisy = rng.random() < 0.75
            kind = str(rng.choice(speech.NOISE_KINDS))
            if label == SILENCE:
                jobs.append(speech.Job("", speech.Voice("espeak", "en-us"), SR, seed_i, noise_kind=kind,
                                       peak_db=float(rng.uniform(-40, -12)), length_s=1.0,
                                       meta={"label": label, "file": f"{SILENCE}/{kind}_noise_{split}_{i}.wav"}))
                continue
            voice = flite[int(rng.integers(len(flite)))] if flite and rng.random() < FLITE_SHARE else order[i % len(order)]
            utt = repeats[(voice.id, label)]
            repeats[(voice.id, label)] += 1
            jobs.append(speech.Job(
                SAY.get(label, label), voice, SR, seed_i,
                rate=float(rng.uniform(0.75, 1.35)), pitch=int(rng.integers(15, 86)),
                speed=float(rng.uniform(0.9, 1.1)), peak_db=float(rng.uniform(-22, -1)),
                noise_kind=kind, snr_db=float(rng.uniform(8, 35) if noisy else rng.uniform(45, 60)), length_s=1.0,
                min_speech_s=0.05,  # "up" from a fast voice lasts about 0.06 s
                meta={"label": label, "file": f"{label}/{voice.id}_nohash_{utt}.wav", "utt": utt},
            ))
    return jobs


def _rows(results, split: str, tally: speech.Tally, log: Callable[[str], None]):
    for res in results:
        if res.audio is None:
            tally.skip(res, log)
            continue
        m = res.job.meta
        silence = m["label"] == SILENCE
        speaker = None if silence else res.job.voice.id
        tally.ok(split, m["label"], speaker or "(noise)")
        yield {
            "file": m["file"],
            "audio": {"bytes": speech.encode_flac(res.audio, SR), "path": m["file"]},
            "label": m["label"],
            "is_unknown": m["label"] in UNKNOWN_WORDS,
            "speaker_id": speaker,
            "utterance_id": 0 if silence else m["utt"],
        }


def _render(job: speech.Job) -> speech.Result:
    return speech.render_noise(job) if job.meta["label"] == SILENCE else speech.render(job)


def build(out_dir: Path, *, size: str, seed: int, log: Callable[[str], None] = print) -> dict:
    if size not in SIZES:
        raise ValueError(f"size {size!r}: expected one of {list(SIZES)}")
    start = time.perf_counter()
    voices = voices_by_split(seed)
    tally = speech.Tally()
    for split, per_label in SIZES[size].items():
        jobs = plan(split, voices[split], per_label, seed)
        write_split(out_dir, REPO, CONFIG, split, _rows(speech.run_jobs(jobs, _render), split, tally, log), FEATURES)
    seconds = time.perf_counter() - start
    summary = tally.summary()
    summary["clips_per_s"] = round(summary["clips"] / seconds, 1)
    summary["skipped_text"] = tally.skipped_text()
    table = tally.tables(LABELS)
    log(f"[speech_commands] clips per label and split:\n{table}")
    log(f"[speech_commands] clips per speaker:\n{tally.speaker_lists()}")
    write_card(out_dir, REPO, _card(size, seed, voices, tally, table, summary))
    return summary


def _card(size, seed, voices, tally, table, summary) -> str:
    variants = {s: sorted({v.variant for v in vs if v.variant}) for s, vs in voices.items()}
    flite = {s: [v.name for v in vs if v.engine == "flite"] for s, vs in voices.items()}
    return f"""# Speech Commands v0.02: locally synthesised stand-in

**This is not the real `google/speech_commands` dataset.** It is an offline stand-in generated on
this machine by `python -m course_offline build --only speech_commands --size {size} --seed {seed}`.
It has the same config (`v0.02`), splits, columns, feature types and the 36 label names in the same
order, so course code written for the Hub dataset runs unchanged.

## How it was made
- Each word is spoken by a synthetic voice: espeak-ng English accents ({", ".join(ACCENTS)}) combined
  with espeak-ng voice variants, plus flite voices. Each clip synthesised in its own process.
- Variety per clip: speaking rate (0.75-1.35x), pitch (15-85), speed perturbation (0.9-1.1x),
  gain (peak -22 to -1 dBFS), random time shift inside the 1-s window, and in 75 % of clips
  background noise ({", ".join(speech.NOISE_KINDS)}) at 8-35 dB SNR; the other clips get a faint
  noise floor (45-60 dB SNR), so no clip holds digital silence.
- `_silence_` clips are 1 s of background noise only (the real set's are longer recordings);
  their `speaker_id` is null and `utterance_id` 0, as in the real set.
- `is_unknown` is False for the ten command words ({", ".join(WORDS)}) and `_silence_`, True for the
  other 25 words, as in the real set. `utterance_id` counts repeats of a word by the same speaker.
- Every clip is 16 kHz mono, exactly 1 s, FLAC-encoded, checked to be non-silent and not clipped;
  the synthesizer output is checked to contain speech, and every voice is checked to be installed
  (espeak-ng would otherwise fall back silently to its default voice).
- Clips whose synthesis failed were skipped: {summary["skipped_text"]}.

## Speakers: disjoint across splits
`speaker_id` is the synthetic voice (`espeak-<accent>-<variant>` or `flite-<voice>`). The espeak
variants are partitioned between the splits (seeded), so no variant heard in training occurs in
validation or test; every accent occurs in every split.

- train variants: {", ".join(variants.get("train", []))}; flite: {", ".join(flite.get("train", []))}
- validation variants: {", ".join(variants.get("validation", []))}; flite: {", ".join(flite.get("validation", []))}
- test variants: {", ".join(variants.get("test", []))}; flite: {", ".join(flite.get("test", []))}

## Sizes and label balance (size `{size}`)
{table}

Sizes: `tiny` = {SIZES["tiny"]} clips per label; `course` = {SIZES["course"]} clips per label.

## Licence of sources
{speech.SOURCES_LICENCE} The real Speech Commands dataset is CC BY 4.0 (Warden, 2018,
arXiv:1804.03209); none of its audio is used here.
"""
