"""Stand-in for ``google/fleurs``: read sentences in 25 languages, synthesised, plus real speech.

Same columns, feature types, ``lang_id`` names (the 102 FLEURS codes, sorted, then ``all``, as
in the Hub dataset's features), ``lang_group_id`` names, ``language`` strings, per-language
configs named with the real codes, ``all``, and the splits train/validation/test.

Sentences: the Tux Paint stamp descriptions (Debian ``tuxpaint-stamps-default``), which are
translated in parallel into many languages; 1-4 descriptions are read as one utterance of
several seconds. Sentences and voices are disjoint across splits (as in FLEURS): the espeak-ng
variants are partitioned between the splits, and within a split every variant speaks every
language, so a voice carries no information about the language.

Real human speech: Tux Paint ships recorded descriptions for some languages; they form an extra
``test_real`` split (never training) for the languages here that have them.
"""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from datasets import Audio, ClassLabel, Features, Value

from . import speech
from .. import layout
from ._writer import write_card, write_split

REPO = layout.DATASETS["google/fleurs"]
# Real human speech has no place in the real repository's layout: its own stand-in-only repository.
HUMAN = layout.DATASETS["course-standins/fleurs-human-speech"]

SR = 16000
STAMPS = Path("/usr/share/tuxpaint/stamps")

# The Hub dataset's ClassLabel for lang_id: its configs (102 codes, sorted) and "all".
FLEURS_LANG = list(layout.FLEURS_CODES)
LANG_ID_NAMES = FLEURS_LANG + ["all"]
GROUPS = {
    "western_european_we": ["Asturian", "Bosnian", "Catalan", "Croatian", "Danish", "Dutch", "English", "Finnish",
                            "French", "Galician", "German", "Greek", "Hungarian", "Icelandic", "Irish", "Italian",
                            "Kabuverdianu", "Luxembourgish", "Maltese", "Norwegian", "Occitan", "Portuguese",
                            "Spanish", "Swedish", "Welsh"],
    "eastern_european_ee": ["Armenian", "Belarusian", "Bulgarian", "Czech", "Estonian", "Georgian", "Latvian",
                            "Lithuanian", "Macedonian", "Polish", "Romanian", "Russian", "Serbian", "Slovak",
                            "Slovenian", "Ukrainian"],
    "central_asia_middle_north_african_cmn": ["Arabic", "Azerbaijani", "Hebrew", "Kazakh", "Kyrgyz", "Mongolian",
                                              "Pashto", "Persian", "Sorani-Kurdish", "Tajik", "Turkish", "Uzbek"],
    "sub_saharan_african_ssa": ["Afrikaans", "Amharic", "Fula", "Ganda", "Hausa", "Igbo", "Kamba", "Lingala", "Luo",
                                "Northern-Sotho", "Nyanja", "Oromo", "Shona", "Somali", "Swahili", "Umbundu",
                                "Wolof", "Xhosa", "Yoruba", "Zulu"],
    "south_asian_sa": ["Assamese", "Bengali", "Gujarati", "Hindi", "Kannada", "Malayalam", "Marathi", "Nepali",
                       "Oriya", "Punjabi", "Sindhi", "Tamil", "Telugu", "Urdu"],
    "south_east_asian_sea": ["Burmese", "Cebuano", "Filipino", "Indonesian", "Javanese", "Khmer", "Lao", "Malay",
                             "Maori", "Thai", "Vietnamese"],
    "chinese_japanase_korean_cjk": ["Mandarin Chinese", "Cantonese Chinese", "Japanese", "Korean"],
}
FEATURES = Features(
    {
        "id": Value("int32"),
        "num_samples": Value("int32"),
        "path": Value("string"),
        "audio": Audio(sampling_rate=SR),
        "transcription": Value("string"),
        "raw_transcription": Value("string"),
        "gender": ClassLabel(names=["male", "female", "other"]),
        "lang_id": ClassLabel(names=LANG_ID_NAMES),
        "language": Value("string"),
        "lang_group_id": ClassLabel(names=list(GROUPS)),
    }
)

# FLEURS code -> (language as in FLEURS, espeak-ng voice, Tux Paint locale). French is "fr", not
# "fr-fr": espeak-ng ignores variants on "fr-fr", which made every French speaker one voice.
LANGS = {
    "af_za": ("Afrikaans", "af", "af"), "be_by": ("Belarusian", "be", "be"), "bg_bg": ("Bulgarian", "bg", "bg"),
    "ca_es": ("Catalan", "ca", "ca"), "cs_cz": ("Czech", "cs", "cs"), "da_dk": ("Danish", "da", "da"),
    "de_de": ("German", "de", "de"), "el_gr": ("Greek", "el", "el"), "en_us": ("English", "en-us", "en"),
    "es_419": ("Spanish", "es-419", "es"), "fi_fi": ("Finnish", "fi", "fi"), "fr_fr": ("French", "fr", "fr"),
    "hi_in": ("Hindi", "hi", "hi"), "hu_hu": ("Hungarian", "hu", "hu"), "id_id": ("Indonesian", "id", "id"),
    "it_it": ("Italian", "it", "it"), "nl_nl": ("Dutch", "nl", "nl"), "pl_pl": ("Polish", "pl", "pl"),
    "pt_br": ("Portuguese", "pt-br", "pt_BR"), "ro_ro": ("Romanian", "ro", "ro"), "ru_ru": ("Russian", "ru", "ru"),
    "sv_se": ("Swedish", "sv", "sv"), "tr_tr": ("Turkish", "tr", "tr"), "uk_ua": ("Ukrainian", "uk", "uk"),
    "vi_vn": ("Vietnamese", "vi", "vi"),
}
SPLITS = {"train": 0.7, "validation": 0.1, "test": 0.2}
SENTENCE_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}
# utterances per language and split; test_real: at most this many real utterances per language.
# The course size's 300 training utterances: with 150 (and 6 crops each) the Whisper stand-in
# reached test top-1 0.805, with 300 (3 crops, the same training time) 0.833.
SIZES = {
    "tiny": {"train": 16, "validation": 1, "test": 2, "test_real": 2},
    "course": {"train": 300, "validation": 20, "test": 40, "test_real": 40},
}
REAL_PER_UTTERANCE = 3  # real descriptions (about 1 s each) joined into one utterance


def missing_tools() -> list[str]:
    out = speech.missing_tools(need_flite=False)
    if not (STAMPS.is_dir() and any(STAMPS.rglob("*.txt"))):
        out.append(f"Tux Paint stamps not found under {STAMPS}: install the Debian package "
                   "`tuxpaint-stamps-default` (apt-get install tuxpaint-stamps-default)")
    return out


def group_of(code: str) -> str:
    name = LANGS[code][0]
    return next(g for g, names in GROUPS.items() if name in names)


def normalise(text: str) -> str:
    """FLEURS-style ``transcription``: lower case, punctuation removed."""
    # drop punctuation and symbols by Unicode category: a [^\w] pattern would also drop the
    # combining vowel signs of scripts such as Devanagari
    kept = "".join(" " if unicodedata.category(ch)[0] in "PS" and ch != "'" else ch for ch in text.lower())
    return re.sub(r"\s+", " ", kept).strip()


def read_stamps() -> list[tuple[str, dict[str, str]]]:
    """``[(stamp path without suffix, {locale: description})]``, sorted; untranslated lines dropped."""
    out = []
    for txt in sorted(STAMPS.rglob("*.txt")):
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
        if not lines or not lines[0].strip():
            continue
        texts = {"en": lines[0].strip()}
        for line in lines[1:]:
            m = re.match(r"([A-Za-z_]+)\.utf8=(.*)$", line)
            if m and m.group(2).strip() and m.group(2).strip() != texts["en"]:
                texts[m.group(1)] = m.group(2).strip()
        out.append((str(txt.relative_to(STAMPS).with_suffix("")), texts))
    return out


def partition(n: int, seed: int) -> dict[str, list[int]]:
    rng = np.random.default_rng([seed, 21])
    parts = speech.split_names([f"{i:05d}" for i in range(n)], SENTENCE_SPLITS, rng)
    return {s: [int(i) for i in v] for s, v in parts.items()}


def voices_by_split(seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng([seed, 22])
    return speech.split_names(list(speech.usable_variants()), SPLITS, rng)


def plan(code: str, split: str, n: int, stamps, sentences: list[int], variants: list[str], seed: int) -> list[speech.Job]:
    language, voice_name, locale = LANGS[code]
    rng = np.random.default_rng([seed, 23, list(LANGS).index(code), list(SPLITS).index(split)])
    pool = [i for i in sentences if locale in stamps[i][1]]
    jobs = []
    order = [variants[j] for j in rng.permutation(len(variants))]
    for k in range(n):
        target = rng.uniform(50, 130)  # characters: about 4-9 s of speech
        picks = [int(i) for i in rng.choice(pool, size=min(4, len(pool)), replace=False)]
        texts: list[str] = []
        for i in picks:
            texts.append(stamps[i][1][locale])
            if sum(map(len, texts)) >= target:
                break
        raw = " ".join(t if t[-1] in ".!?。" else t + "." for t in texts)
        voice = speech.Voice("espeak", voice_name, order[k % len(order)])
        sid = picks[0]
        path = f"{code}/{split}/{voice.id}/{sid}_{k}.wav"
        jobs.append(speech.Job(
            raw, voice, SR, int(rng.integers(2**31)),
            rate=float(rng.uniform(0.8, 1.2)), pitch=int(rng.integers(25, 76)),
            speed=float(rng.uniform(0.95, 1.05)), peak_db=float(rng.uniform(-18, -2)),
            noise_kind=str(rng.choice(speech.NOISE_KINDS)),
            snr_db=float(rng.uniform(10, 35) if rng.random() < 0.5 else rng.uniform(45, 60)), lead_s=(0.1, 0.6), min_speech_s=1.0,
            meta={"id": sid, "path": path, "raw": raw, "gender": voice.gender, "speaker": voice.id},
        ))
    return jobs


def _row(code: str, audio: np.ndarray, m: dict) -> dict:
    return {
        "id": m["id"],
        "num_samples": len(audio),
        "path": m["path"],
        "audio": {"bytes": speech.encode_flac(audio, SR), "path": m["path"].rsplit("/", 1)[-1]},
        "transcription": normalise(m["raw"]),
        "raw_transcription": m["raw"],
        "gender": m["gender"],
        "lang_id": code,
        "language": LANGS[code][0],
        "lang_group_id": group_of(code),
    }


def _synth_rows(results, code: str, split: str, tally: speech.Tally, log):
    for res in results:
        if res.audio is None:
            tally.skip(res, log)
            continue
        tally.ok(split, code, res.job.meta["speaker"])
        yield _row(code, res.audio, res.job.meta)


def real_clips(code: str, stamps, allowed: set[int]) -> list[tuple[int, Path, str]]:
    """Recorded descriptions of stamps in ``allowed`` for a language: ``[(stamp, file, text)]``."""
    locale = LANGS[code][2]
    out = []
    for i, (base, texts) in enumerate(stamps):
        if i not in allowed or locale not in texts:
            continue
        f = STAMPS / f"{base}_desc_{locale}.ogg"
        if f.exists():
            out.append((i, f, texts[locale]))
    return out


def _load_real(f: Path) -> np.ndarray:
    x, sr = sf.read(str(f), dtype="float32", always_2d=True)
    x = speech.resample(x.mean(axis=1), sr, SR)
    if np.mean(np.abs(x) >= 0.999) > 0.001:
        raise speech.SynthesisError("clipped recording")
    peak = float(np.abs(x).max())
    return x * (0.9 / peak) if peak > 0.9 else x  # decoder overshoot only; no level change otherwise


def _real_rows(code: str, clips, n: int, seed: int, tally: speech.Tally, log):
    rng = np.random.default_rng([seed, 24, list(LANGS).index(code)])
    order = [clips[j] for j in rng.permutation(len(clips))]
    gap = np.zeros(int(0.3 * SR), np.float32)
    made = tried = failed = 0
    for start in range(0, len(order) - REAL_PER_UTTERANCE + 1, REAL_PER_UTTERANCE):
        if made >= n:
            break
        if failed >= 12 and made == 0:  # e.g. Tux Paint's Spanish recordings are all clipped
            log(f"[skip] {code}: giving up on real recordings, the first {tried} tried were unusable")
            break
        group = order[start: start + REAL_PER_UTTERANCE]
        parts, texts = [], []
        for i, f, text in group:
            tried += 1
            try:
                parts += [_load_real(f), gap]
                texts.append(text if text[-1] in ".!?" else text + ".")
            except (speech.SynthesisError, RuntimeError, ValueError) as error:
                failed += 1
                tally.skipped[f"real recording: {error}"] += 1
                log(f"[skip] {f}: {error}")
        if not texts:
            continue
        audio = np.concatenate([gap] + parts).astype(np.float32)
        problem = speech.check_clip(audio, SR, speech_s=0.5)
        if problem:
            tally.skipped[f"real: {problem.split(' (')[0]}"] += 1
            log(f"[skip] real {code} {[str(g[1].name) for g in group]}: {problem}")
            continue
        rel = "+".join(str(g[1].relative_to(STAMPS)) for g in group)
        tally.ok("test_real", code, "tuxpaint-recordings")
        made += 1
        yield _row(code, audio, {"id": group[0][0], "path": f"tuxpaint-stamps/{rel}", "raw": " ".join(texts),
                                 "gender": "other"})


def build(out_dir: Path, *, size: str, seed: int, log: Callable[[str], None] = print) -> dict:
    if size not in SIZES:
        raise ValueError(f"size {size!r}: expected one of {list(SIZES)}")
    start = time.perf_counter()
    sizes = SIZES[size]
    stamps = read_stamps()
    if not stamps:
        raise RuntimeError(f"no Tux Paint stamp descriptions under {STAMPS}")
    sentences = partition(len(stamps), seed)
    variants = voices_by_split(seed)
    codes = [c for c in LANGS if LANGS[c][1] in speech.espeak_languages()]
    tally = speech.Tally()
    configs: dict[str, list[str]] = {}
    unusable: list[str] = []
    human: list[dict] = []  # every language's real recordings: one test split  # languages whose recordings all failed the quality check
    for code in codes:
        configs[code] = []
        for split in SPLITS:
            jobs = plan(code, split, sizes[split], stamps, sentences[split], variants[split], seed)
            write_split(out_dir, REPO, code, split, _synth_rows(speech.run_jobs(jobs), code, split, tally, log), FEATURES)
            configs[code].append(split)
        # real speech only from sentences never used for training
        clips = real_clips(code, stamps, set(sentences["validation"]) | set(sentences["test"]))
        if len(clips) >= REAL_PER_UTTERANCE:
            rows = list(_real_rows(code, clips, sizes["test_real"], seed, tally, log))
            if rows:
                human.extend(rows)
                configs[code].append("test_real")
            else:
                unusable.append(code)
    seconds = time.perf_counter() - start
    summary = tally.summary()
    summary["skipped_text"] = tally.skipped_text()
    summary["clips_per_s"] = round(summary["clips"] / seconds, 1)
    summary["languages"] = len(codes)
    summary["test_real_languages"] = [c for c in codes if "test_real" in configs[c]]
    summary["test_real_unusable"] = unusable
    table = tally.tables(codes)
    log(f"[fleurs] utterances per language and split:\n{table}")
    log(f"[fleurs] clips per speaker:\n{tally.speaker_lists()}")
    if human:
        write_split(out_dir, HUMAN, "default", "test", human, FEATURES)
        write_card(out_dir, HUMAN, _human_card(size, seed, configs, summary))
    write_card(out_dir, REPO, _card(size, seed, variants, codes, configs, table, summary))
    return summary


def _card(size, seed, variants, codes, configs, table, summary) -> str:
    real = [c for c in codes if "test_real" in configs[c]]
    langs = ", ".join(f"`{c}` {LANGS[c][0]} (espeak-ng `{LANGS[c][1]}`)" for c in codes)
    return f"""# FLEURS: locally synthesised stand-in

**This is not the real `google/fleurs` dataset.** It is an offline stand-in generated on this
machine by `python -m course_offline build --only fleurs --size {size} --seed {seed}`. It has the
same columns and feature types, `lang_id` names (the 102 FLEURS codes sorted, then `all`, as the
Hub dataset's features have them), `language` strings, `lang_group_id` names, and the layout
of the Hub's parquet conversion (`refs/convert/parquet`): one folder per language code, each
with train/validation/test. As on that branch, there is no `all` folder: load one language at a
time (`data_dir="en_us"`).

Languages ({len(codes)}): {langs}.

## How it was made
- Text: the Tux Paint stamp descriptions (Debian `tuxpaint-stamps-default`), translated in
  parallel into many languages; untranslated lines are dropped. One utterance reads 1-4
  descriptions (about 4-9 s). `id` is the first description's stamp number, the same across
  languages, as FLEURS ids are per sentence. `transcription` is the lower-cased text without
  punctuation, `raw_transcription` the text as written.
- Sentences are disjoint across splits (stamps partitioned 80/10/10, seeded).
- Voices: espeak-ng, each utterance in its own process; every voice is checked to be installed (no
  silent fallback). `gender` is the variant's listed gender. Variety per utterance: rate
  (0.8-1.2x), pitch, speed perturbation (0.95-1.05x), gain, leading/trailing silence and in half
  of them background noise at 10-35 dB SNR (the rest a faint noise floor at 45-60 dB SNR,
  so no clip holds digital silence). 16 kHz mono FLAC.
- Quality: the synthesizer output must hold at least 1 s of speech; clips are non-silent and not
  clipped. Skipped: {summary["skipped_text"]}.

## Speakers: disjoint across splits
The espeak-ng variants are partitioned between the splits; within a split every variant speaks
every language, so the voice says nothing about the language. The speaker is recorded in `path`:
`<code>/<split>/<voice>/<id>_<n>.wav`.

- train variants: {", ".join(variants["train"])}
- validation variants: {", ".join(variants["validation"])}
- test variants: {", ".join(variants["test"])}

## Real human speech (never for training): `course-standins/fleurs-human-speech`
For {", ".join(f"`{c}`" for c in real) or "no language"} a stand-in-only repository (the real FLEURS has
no such split) holds real recordings in one `test` split:
the spoken stamp descriptions shipped with Tux Paint, {REAL_PER_UTTERANCE} descriptions (about 1 s each) joined
with 0.3-s pauses into one utterance, from stamps whose text is not in the train split. Resampled
to 16 kHz mono; `gender` is `other` (unknown). `path` names the source files. Recordings failing the quality check are left out;
languages with no usable recording: {", ".join(summary["test_real_unusable"]) or "none"} (Tux Paint's
Spanish recordings are clipped at the source: 4-12 % of their samples sit at full scale).

## Sizes (size `{size}`)
{table}

Sizes per language: `tiny` = {SIZES["tiny"]}; `course` = {SIZES["course"]}.

## Licence of sources
{speech.SOURCES_LICENCE} Texts and the real recordings come from Tux Paint's stamps (GPL-2.0-or-later,
Debian package `tuxpaint-stamps-default`). The real FLEURS is CC BY 4.0 (Conneau et al., 2022,
arXiv:2205.12446); none of its audio or text is used here.
"""


def _human_card(size, seed, configs, summary) -> str:
    real = [c for c in configs if "test_real" in configs[c]]
    return f"""# Human speech in FLEURS' schema: a stand-in-only repository

**This repository exists only in the course's offline world; it has no counterpart on the Hub.**
It holds recordings of people (the spoken stamp descriptions that Debian's `tuxpaint-stamps-default`
ships) in `google/fleurs`' columns, for {len(real)} languages: {", ".join(real)}. Lesson 3 uses it
to measure how the offline stand-in model, trained on synthesised voices, does on human speech.
Built by `python -m course_offline build --only fleurs --size {size} --seed {seed}`; see the
`google/fleurs` stand-in's card for how the clips were made and checked.
"""

