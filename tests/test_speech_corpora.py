"""The synthesised speech stand-ins (Speech Commands, MINDS-14, FLEURS), built for real at tiny size.

The expected schemas below are copied from the real Hub datasets' cards and loading scripts, not
from the builders, so that a builder drifting from the real dataset fails here.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from datasets import Audio, ClassLabel, Features, Value, load_dataset

from course_offline import layout, store
from course_offline.builders import run_builds
from course_offline.builders import fleurs, minds14, speech, speech_commands
from course_offline.builders._writer import write_split

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(speech.missing_tools(need_flite=False)), reason="espeak-ng not installed"),
]

NAMES = ("speech_commands", "minds14", "fleurs")

# --- the real datasets' schemas ----------------------------------------------------------------
SC_LABELS = ("yes no up down left right on off stop go zero one two three four five six seven eight nine "
             "bed bird cat dog happy house marvin sheila tree wow backward forward follow learn visual _silence_").split()
SC_COMMANDS = set(SC_LABELS[:10])
SC_FEATURES = Features({
    "file": Value("string"), "audio": Audio(sampling_rate=16000), "label": ClassLabel(names=SC_LABELS),
    "is_unknown": Value("bool"), "speaker_id": Value("string"), "utterance_id": Value("int8"),
})
MINDS_INTENTS = ["abroad", "address", "app_error", "atm_limit", "balance", "business_loan", "card_issues",
                 "cash_deposit", "direct_debit", "freeze", "high_value_payment", "joint_account",
                 "latest_transactions", "pay_bill"]
MINDS_LANGS = ["cs-CZ", "de-DE", "en-AU", "en-GB", "en-US", "es-ES", "fr-FR", "it-IT", "ko-KR", "nl-NL",
               "pl-PL", "pt-PT", "ru-RU", "zh-CN"]
MINDS_FEATURES = Features({
    "path": Value("string"), "audio": Audio(sampling_rate=8000), "transcription": Value("string"),
    "english_transcription": Value("string"), "intent_class": ClassLabel(names=MINDS_INTENTS),
    "lang_id": ClassLabel(names=MINDS_LANGS),
})
FLEURS_GROUPS = ["western_european_we", "eastern_european_ee", "central_asia_middle_north_african_cmn",
                 "sub_saharan_african_ssa", "south_asian_sa", "south_east_asian_sea", "chinese_japanase_korean_cjk"]
# google/fleurs lang_id names, by index, from the Hub card (102 codes then "all")
FLEURS_LANG_AT = {0: "af_za", 6: "be_by", 7: "bg_bg", 12: "ckb_iq", 13: "cmn_hans_cn", 19: "en_us", 20: "es_419",
                  26: "fr_fr", 76: "pt_br", 78: "ru_ru", 100: "yue_hant_hk", 101: "zu_za", 102: "all"}
FLEURS_LANGUAGE = {"af_za": "Afrikaans", "en_us": "English", "es_419": "Spanish", "fr_fr": "French",
                   "pt_br": "Portuguese", "ru_ru": "Russian", "el_gr": "Greek", "nl_nl": "Dutch"}


def _build(root: Path) -> dict[str, Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA", str(root))
        run_builds(list(NAMES), size="tiny", seed=0, force=True, log=lambda m: None)
        return {n: store.standin_dir("dataset", n, "tiny") for n in NAMES}


@pytest.fixture(scope="session")
def built() -> dict[str, Path]:
    """The three stand-ins at tiny size, built once per session into a private COURSE_DATA.

    A private temporary folder, not pytest's numbered basetemp: concurrent pytest sessions on a
    shared machine rotate (delete) each other's basetemp folders."""
    root = Path(tempfile.mkdtemp(prefix="speech-corpora-"))
    try:
        yield _build(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _load(folder: Path, config: str, split: str):
    """One config's split of a built stand-in, read from its parquet branch as the Hub has it; FLEURS'
    ``all``, absent there as on the Hub, is every language folder concatenated."""
    from datasets import concatenate_datasets

    branch = folder / layout.folder_name(layout.PARQUET)
    if config == "all" and not (branch / "all").is_dir():
        languages = sorted(p.name for p in branch.iterdir() if p.is_dir())
        return concatenate_datasets([_load(folder, c, split) for c in languages])
    # a cache beside the data: a stale entry in the shared datasets cache can never be read
    return load_dataset(str(branch), data_dir=config, split=split, cache_dir=str(folder.parent / ".hf-cache"))


def _human(folder: Path):
    """The stand-in-only repository of real human speech that the FLEURS build writes."""
    return load_dataset(str(folder / "fleurs-human-speech" / "main"), split="test",
                        cache_dir=str(folder.parent / ".hf-cache"))


def _arrays(ds):
    for row in ds:
        dec = row["audio"]
        yield row, np.asarray(dec["array"], dtype=np.float32).reshape(-1), dec["sampling_rate"]


def _assert_clean(x: np.ndarray, where: str) -> None:
    assert np.isfinite(x).all(), where
    assert np.abs(x).max() < 0.999, f"{where}: clipped"
    assert np.sqrt(np.mean(x**2)) > 1e-3, f"{where}: silent"


# --- Speech Commands ---------------------------------------------------------------------------


def test_speech_commands_schema_and_splits(built):
    folder = built["speech_commands"]
    for split in ("train", "validation", "test"):
        ds = _load(folder, "v0.02", split)
        assert ds.features == SC_FEATURES
        assert set(ds["label"]) == set(range(36)), f"{split}: every label present"
    with pytest.raises(FileNotFoundError):  # the stand-in builds v0.02 only (EmptyDatasetError)
        _load(folder, "v0.01", "train")


def test_speech_commands_rows_follow_the_real_conventions(built):
    ds = _load(built["speech_commands"], "v0.02", "train")
    seen = {}
    for row in ds:
        name = SC_LABELS[row["label"]]
        assert row["is_unknown"] == (name not in SC_COMMANDS and name != "_silence_")
        assert row["file"].startswith(name + "/")
        if name == "_silence_":
            assert row["speaker_id"] is None and row["utterance_id"] == 0
        else:
            assert re.fullmatch(r"[A-Za-z0-9-]+", row["speaker_id"])
            assert row["file"] == f"{name}/{row['speaker_id']}_nohash_{row['utterance_id']}.wav"
            key = (row["speaker_id"], name)
            assert row["utterance_id"] == seen.get(key, -1) + 1, "utterance_id counts repeats"
            seen[key] = row["utterance_id"]


def test_speech_commands_speakers_disjoint(built):
    speakers = {s: set(_load(built["speech_commands"], "v0.02", s)["speaker_id"]) - {None}
                for s in ("train", "validation", "test")}
    assert all(speakers.values())
    assert not speakers["train"] & speakers["validation"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["validation"] & speakers["test"]
    # voices differ in variant too, not just in accent
    variant = {s: {v.rsplit("-", 1)[-1] for v in vs if v.startswith("espeak-")} for s, vs in speakers.items()}
    assert not variant["train"] & variant["test"]


def test_speech_commands_audio_quality(built):
    for split in ("train", "test"):
        for row, x, sr in _arrays(_load(built["speech_commands"], "v0.02", split)):
            assert sr == 16000 and len(x) == 16000, row["file"]
            _assert_clean(x, row["file"])
            if SC_LABELS[row["label"]] != "_silence_":
                assert speech.active_seconds(x, sr) >= 0.05, f"{row['file']}: no speech"


# --- MINDS-14 ----------------------------------------------------------------------------------


def test_minds14_schema_configs_and_labels(built):
    folder = built["minds14"]
    configs = [c for c in minds14.CONFIGS]
    assert {"en-AU", "en-US", "en-GB"} <= set(configs)
    assert len([c for c in configs if not c.startswith("en")]) >= 3
    total = 0
    for config in configs:
        ds = _load(folder, config, "train")
        assert ds.features == MINDS_FEATURES
        assert set(ds["intent_class"]) == set(range(14)), config
        assert set(ds["lang_id"]) == {MINDS_LANGS.index(config)}
        assert all(t.strip() for t in ds["transcription"]) and all(t.strip() for t in ds["english_transcription"])
        total += len(ds)
    everything = _load(folder, "all", "train")
    assert everything.features == MINDS_FEATURES and len(everything) == total
    with pytest.raises(ValueError):
        _load(folder, "en-AU", "test")


def test_minds14_translations_and_speakers(built):
    ds = _load(built["minds14"], "fr-FR", "train")
    for row in ds:
        assert row["transcription"] == row["transcription"].lower()
        assert not re.search(r"[?.!]", row["transcription"])
        assert re.search(r"[A-Za-z]", row["english_transcription"])
        assert row["path"].startswith(f"fr-FR~{MINDS_INTENTS[row['intent_class']].upper()}/")
    folds = {}
    for path in _load(built["minds14"], "all", "train")["path"]:
        speaker = minds14.speaker_of(path)
        folds.setdefault(speaker, set()).add(minds14.fold_of(path))
    assert all(len(f) == 1 for f in folds.values()), "a speaker belongs to one fold"
    assert any(minds14.HELDOUT_FOLD in f for f in folds.values())


def test_minds14_audio_quality(built):
    for row, x, sr in _arrays(_load(built["minds14"], "all", "train")):
        assert sr == 8000, row["path"]
        assert len(x) > sr, f"{row['path']}: a sentence is longer than 1 s"
        _assert_clean(x, row["path"])
        assert speech.active_seconds(x, sr) >= 0.5, f"{row['path']}: no speech"


# --- FLEURS ------------------------------------------------------------------------------------


def test_fleurs_schema_configs_and_splits(built):
    folder = built["fleurs"]
    codes = list(fleurs.LANGS)
    assert len(codes) >= 20
    ds = _load(folder, "fr_fr", "train")
    names = ds.features["lang_id"].names
    assert len(names) == 103 and all(names[i] == code for i, code in FLEURS_LANG_AT.items())
    assert ds.features["lang_group_id"].names == FLEURS_GROUPS
    assert ds.features["gender"].names == ["male", "female", "other"]
    assert [str(ds.features[k]) for k in ("id", "num_samples")] == [str(Value("int32"))] * 2
    assert ds.features["audio"] == Audio(sampling_rate=16000)
    for code in codes:
        for split in ("train", "validation", "test"):
            part = _load(folder, code, split)
            assert set(part["lang_id"]) == {names.index(code)}, (code, split)
            assert set(part["language"]) == {fleurs.LANGS[code][0]}
        if code in FLEURS_LANGUAGE:
            assert fleurs.LANGS[code][0] == FLEURS_LANGUAGE[code]
    assert set(_load(folder, "all", "test")["lang_id"]) == {names.index(c) for c in codes}


def test_fleurs_speakers_and_sentences_disjoint(built):
    voices, ids = {}, {}
    for split in ("train", "validation", "test"):
        ds = _load(built["fleurs"], "all", split)
        voices[split] = {p.split("/")[2].rsplit("-", 1)[-1] for p in ds["path"]}
        ids[split] = set(ds["id"])
    for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
        assert not voices[a] & voices[b], (a, b)
        assert not ids[a] & ids[b], (a, b)


def test_fleurs_test_real_is_real_speech_never_trained_on(built):
    folder = built["fleurs"]
    everyone = _human(folder)
    real = everyone.filter(lambda lang: lang == "French", input_columns="language")
    assert len(real) >= 1
    train_ids = set(_load(folder, "all", "train")["id"])
    for row, x, sr in _arrays(real):
        assert row["path"].startswith("tuxpaint-stamps/") and row["path"].endswith("_desc_fr.ogg")
        assert row["gender"] == 2 and row["id"] not in train_ids
        assert sr == 16000 and row["num_samples"] == len(x)
        _assert_clean(x, row["path"])
    assert len(everyone) > len(real) and set(everyone["language"]) > {"French"}
    assert not (folder / layout.folder_name(layout.PARQUET) / "fr_fr" / "test_real").exists()  # not FLEURS' layout


def test_fleurs_audio_quality(built):
    for row, x, sr in _arrays(_load(built["fleurs"], "all", "test")):
        assert sr == 16000 and row["num_samples"] == len(x), row["path"]
        assert len(x) >= 2 * sr, f"{row['path']}: sentences last several seconds"
        _assert_clean(x, row["path"])
        assert row["transcription"] == fleurs.normalise(row["raw_transcription"])


# --- cards, determinism, faults, resolution ----------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_card_says_it_is_a_standin(built, name):
    text = (built[name] / "main" / "README.md").read_text()
    assert "not the real" in text and "stand-in" in text and "Licence" in text
    assert "| **total** |" in text


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.parquet"))}


def test_same_seed_gives_identical_files(built):
    root = Path(tempfile.mkdtemp(prefix="speech-corpora-again-"))
    try:
        again = _build(root)
        for name in NAMES:
            first, second = _hashes(built[name]), _hashes(again[name])
            assert first and first == second, name
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_failed_synthesis_costs_one_item_not_the_split(tmp_path):
    voices = speech_commands.voices_by_split(0)["test"]
    jobs = speech_commands.plan("test", voices, 1, 0)[:6]
    jobs[1].voice = speech.Voice("espeak", "en-us", "no-such-variant")  # espeak would fall back silently
    jobs[3].text = " "  # the synthesizer returns silence
    tally = speech.Tally()
    logged = []
    rows = speech_commands._rows(speech.run_jobs(jobs, speech_commands._render), "test", tally, logged.append)
    n = write_split(tmp_path, speech_commands.REPO, "v0.02", "test", rows, speech_commands.FEATURES)
    assert n == 4 and tally.summary()["skipped"] == 2
    assert any("no-such-variant" in m for m in logged) and any("no speech" in m for m in logged)
    files = str(tmp_path / layout.folder_name(layout.PARQUET) / "v0.02" / "test" / "*.parquet")
    assert len(load_dataset("parquet", data_files=files, split="train")) == 4


@pytest.mark.parametrize("kind, low_over_high", [("white", (0.03, 0.1)), ("pink", (0.7, 1.4)),
                                                  ("brown", (8.0, 32.0)), ("babble", (30.0, None))])
def test_background_noise_at_an_awkward_length(kind, low_over_high):
    """The corpora's background noise at a clip length with a large prime factor (the FFT runs at a
    longer, well-factored length and the noise is cut to the clip): that length, unit RMS, seeded,
    and coloured as named. Energy in the octave 250-500 Hz over the octave 4-8 kHz: white noise
    1/16, pink 1 (equal energy per octave), brown 16, babble (speech band) far above."""
    n, sr = 7 * 13_831, 16_000  # 13831 is prime
    y = speech.noise(kind, n, np.random.default_rng(3), sr)
    assert y.shape == (n,) and y.dtype == np.float32
    assert np.sqrt(np.mean(y.astype(np.float64) ** 2)) == pytest.approx(1.0, abs=1e-3)
    assert np.array_equal(y, speech.noise(kind, n, np.random.default_rng(3), sr))
    power = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(n, 1 / sr)
    ratio = power[(f >= 250) & (f < 500)].sum() / power[(f >= 4000) & (f < 8000)].sum()
    lo, hi = low_over_high
    assert ratio > lo and (hi is None or ratio < hi), ratio


def test_voice_validation_catches_silent_fallbacks():
    with pytest.raises(speech.SynthesisError, match="no variant"):
        speech.Voice("espeak", "en-us", "m3x").check()
    with pytest.raises(speech.SynthesisError, match="no language"):
        speech.Voice("espeak", "xx-nowhere").check()
    usable = speech.usable_variants()
    assert len(usable) >= 40 and "whisper" not in usable
    assert all(" " not in v for v in usable)
    default, _ = speech.synthesize("seven", speech.Voice("espeak", "en-us"))
    other, _ = speech.synthesize("seven", speech.Voice("espeak", "en-us", usable[0]))
    assert not np.array_equal(default[: len(other)], other[: len(default)])


def test_every_language_voice_of_the_corpora_honours_variants():
    """espeak-ng ignores variants on some names ("fr-fr", "en-gb": "+m3" gives the plain voice), which
    turns all the "speakers" of such a voice into one and lets it cross the held-out splits."""
    assert not speech.honours_variants("fr-fr") and not speech.honours_variants("en-gb")
    with pytest.raises(speech.SynthesisError, match="ignores variants"):
        speech.Voice("espeak", "fr-fr", "m3").check()
    speech.Voice("espeak", "fr", "m3").check()
    used = {v for _, v, _ in fleurs.LANGS.values()} | set(speech_commands.ACCENTS)
    used |= {a for _, accents, _ in minds14.CONFIGS.values() for a in accents}
    assert not [v for v in sorted(used) if not speech.honours_variants(v)]


def test_missing_tools_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert any("espeak-ng" in m and "apt-get install espeak-ng" in m for m in speech_commands.missing_tools())
    monkeypatch.setattr(fleurs, "STAMPS", tmp_path / "nothing")
    assert any("tuxpaint-stamps-default" in m for m in fleurs.missing_tools())


def _command(voice: str, wpm: int, pitch: int, text: str) -> tuple[np.ndarray, int]:
    import io

    import soundfile as sf

    wav = speech._run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "--stdout"], text)
    audio, sr = sf.read(io.BytesIO(wav), dtype="int16")
    return audio, sr


# Voices alternate, so a state leaking from one phrase into the next would show; the long text is
# cut into three 999-byte pieces as the command's fgets loop cuts it, the two-line one into lines.
PHRASES = [("en-us+m3", 150, 40, "Seven."), ("ru+f2", 190, 60, "Корова. Лев. Ворона."),
           ("it+grandpa", 178, 42, "testing one two"), ("fr+klatt", 160, 55, "Je voudrais payer une facture.\nMerci !"),
           ("en-us+m3", 150, 40, "Seven."), ("de+f4", 170, 50, "Zwölf Boxkämpfer jagen Viktor quer über den Deich. " * 50)]


def test_espeak_worker_gives_the_commands_samples():
    from course_offline.builders import _espeak

    worker = _espeak.Worker()
    try:
        for voice, wpm, pitch, text in PHRASES:
            got, sr = worker.synth(voice, wpm, pitch, text)
            want, want_sr = _command(voice, wpm, pitch, text)
            assert sr == want_sr == 22050 and len(got) > 0 and np.array_equal(got, want), voice
    finally:
        worker.close()


def test_espeak_worker_fails_one_phrase_and_recovers():
    from course_offline.builders import _espeak

    worker = _espeak.Worker()
    try:
        want, _ = worker.synth("en-us+m3", 150, 40, "Seven.")
        pid = worker.proc.pid
        with pytest.raises(_espeak.WorkerError, match="Failed to read voice 'xx-nowhere'"):
            worker.synth("xx-nowhere", 150, 40, "Seven.")
        assert worker.proc.pid == pid  # a refused phrase keeps the worker
        worker.proc.kill()  # a worker found dead: the next phrase starts a fresh one
        worker.proc.wait()
        assert np.array_equal(worker.synth("en-us+m3", 150, 40, "Seven.")[0], want) and worker.proc.pid != pid
        worker.timeout_s = 0.001  # a hang: the phrase fails with a timeout, the worker is replaced
        with pytest.raises(_espeak.WorkerError, match="no answer within"):
            worker.synth("de+f4", 170, 50, PHRASES[-1][3])
        worker.timeout_s = 30
        assert np.array_equal(worker.synth("en-us+m3", 150, 40, "Seven.")[0], want)
    finally:
        worker.close()


def test_synthesize_falls_back_to_the_command_without_the_library(monkeypatch):
    import threading

    voice = speech.Voice("espeak", "ru", "f2")
    out = {}

    def run(key):  # a fresh thread: its own worker, started under the environment set below
        out[key] = speech.synthesize("Корова. Лев.", voice, rate=1.1, pitch=60)

    for key, lib in (("worker", None), ("command", "/nonexistent/libespeak-ng.so")):
        if lib:
            monkeypatch.setenv("COURSE_ESPEAK_LIB", lib)
        thread = threading.Thread(target=run, args=(key,))
        thread.start()
        thread.join()
    from course_offline.builders import _espeak

    with pytest.raises(_espeak.CannotStart, match="cannot load libespeak-ng"):
        _espeak.Worker().synth("ru+f2", 190, 60, "Лев.")
    (a, sr_a), (b, sr_b) = out["worker"], out["command"]
    assert sr_a == sr_b and a.dtype == b.dtype == np.float32 and len(a) > 0 and np.array_equal(a, b)
