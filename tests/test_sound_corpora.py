"""The ESC-50 and GTZAN stand-ins (issue 4), built at tiny size into a temporary COURSE_DATA."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

datasets = pytest.importorskip("datasets")
from datasets import Audio, ClassLabel, Value  # noqa: E402

from course_utils import AudioDecodeError, load_audio  # noqa: E402
from course_offline.builders import esc50, gtzan, run_builds  # noqa: E402
from course_offline.builders._music import GENRES  # noqa: E402
from course_offline.store import revision_dir  # noqa: E402

pytestmark = pytest.mark.slow

REAL_GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
# Checked against the real ESC-50 meta: target ids follow this order, and these ten are ESC-10.
REAL_ESC10 = {"dog", "rooster", "rain", "sea_waves", "crackling_fire", "crying_baby", "sneezing", "clock_tick",
              "helicopter", "chainsaw"}


def _tools_present() -> bool:
    return not esc50.missing_tools() and not gtzan.missing_tools()


needs_tools = pytest.mark.skipif(not _tools_present(), reason="fluidsynth / soundfonts / tuxpaint stamps missing")


def _build_all(root: Path, jobs: int = 1) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA", str(root))
        return run_builds(["esc50", "gtzan"], size="tiny", seed=0, jobs=jobs, log=lambda line: None)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    if not _tools_present():
        pytest.skip("fluidsynth / soundfonts / tuxpaint stamps missing")
    root = tmp_path_factory.mktemp("course_data")
    summary = _build_all(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA", str(root))
        # Each stand-in's data as the real repository holds it: ESC-50 on main, GTZAN on the parquet branch.
        paths = {"esc50": revision_dir("ashraq/esc50", size="tiny"), "gtzan": revision_dir("marsyas/gtzan", size="tiny")}
    # `datasets` keys its cache on the folder's base name and config, not its path: a stand-in of
    # another size or build would be read from the cache. Tests read through a cache of their own.
    cache = tmp_path_factory.mktemp("hf_cache")
    return {"root": root, "summary": summary, "cache": str(cache), **paths}


@pytest.fixture(scope="session")
def esc(built):
    return datasets.load_dataset(str(built["esc50"]), split="train", cache_dir=built["cache"])


@pytest.fixture(scope="session")
def gtz(built):
    return datasets.load_dataset(str(built["gtzan"]), data_dir="all", split="train", cache_dir=built["cache"])


def _raw(ds):
    return ds.cast_column("audio", Audio(decode=False))


def _wav_info(row) -> tuple[np.ndarray, int]:
    data, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="float32")
    return data, rate


# --- ESC-50 -----------------------------------------------------------------------------------


def test_esc50_schema_matches_the_hub(esc):
    f = esc.features
    assert list(f) == ["filename", "fold", "target", "category", "esc10", "src_file", "take", "audio"]
    for col, dtype in [("filename", "string"), ("fold", "int64"), ("target", "int64"), ("category", "string"),
                       ("esc10", "bool"), ("src_file", "int64"), ("take", "string")]:
        assert f[col] == Value(dtype), col
    assert isinstance(f["audio"], Audio)
    dec = esc[0]["audio"]
    assert dec["sampling_rate"] == 44100


def test_esc50_labels_are_the_real_ones(esc):
    cats = esc50.CATEGORIES
    assert len(cats) == 50 and cats[0] == "dog" and cats[10] == "rain" and cats[49] == "hand_saw"
    meta = _raw(esc).remove_columns("audio")
    present = set()
    for row in meta:
        assert cats[row["target"]] == row["category"]
        assert row["esc10"] == (row["category"] in REAL_ESC10)
        assert row["filename"] == f"{row['fold']}-{row['src_file']}-{row['take']}-{row['target']}.wav"
        present.add(row["category"])
    assert len(present) >= 25, sorted(present)
    counts = {c: sum(1 for r in meta if r["category"] == c) for c in present}
    assert len(set(counts.values())) == 1, counts  # balanced, like the real set


def test_esc50_folds_never_share_a_source(esc):
    meta = _raw(esc).remove_columns("audio")
    fold_of, cat_of = {}, {}
    for row in meta:
        assert 1 <= row["fold"] <= 5
        assert fold_of.setdefault(row["src_file"], row["fold"]) == row["fold"], row["filename"]
        assert cat_of.setdefault(row["src_file"], row["category"]) == row["category"]
    assert set(meta["fold"]) == {1, 2, 3, 4, 5}
    # Held-out-source evaluation needs several recordings per category where they exist.
    sources = {c: {s for s, cc in cat_of.items() if cc == c} for c in set(cat_of.values())}
    assert sum(len(s) >= 2 for s in sources.values()) >= 15, {c: len(s) for c, s in sources.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_esc50_lone_sources_stay_out_of_the_held_out_fold(seed):
    """Fold 5 is what zero-shot evaluation holds out: a category with one source recording there
    could never be trained on. Multi-source categories still reach it, one source each."""
    jobs = esc50.plan(esc50.catalogue(), esc50.SIZES["course"], seed)
    by_cat: dict[str, list[int]] = {}
    for job in jobs:
        by_cat.setdefault(job["source"].category, []).append(job["fold"])
    lone = {c: f[0] for c, f in by_cat.items() if len(f) == 1}
    assert len(lone) >= 5 and esc50.HELDOUT_FOLD not in lone.values(), lone
    held = [c for c, f in by_cat.items() if esc50.HELDOUT_FOLD in f]
    assert len(held) >= 10 and all(len(by_cat[c]) >= 2 for c in held)
    assert all(len(set(f)) == len(f) for f in by_cat.values() if len(f) <= esc50.FOLDS)  # one fold per source


def test_esc50_card_documents_the_stand_in(built):
    card = (built["esc50"] / "README.md").read_text()
    assert "NOT the real ashraq/esc50" in card and "Folds" in card and "GPL-2" in card and "MIT" in card
    assert "Absent" in card and "| 0 | dog |" in card


def test_esc50_clips_are_clean(esc):
    for row in _raw(esc):
        data, rate = _wav_info(row)
        assert rate == 44100 and data.shape == (5 * 44100,), row["filename"]
        peak, rms = float(np.abs(data).max()), float(np.sqrt(np.mean(data.astype(np.float64) ** 2)))
        assert rms > 1e-3, f"{row['filename']} is silent"
        assert peak < 0.99, f"{row['filename']} is clipped"


# --- GTZAN ------------------------------------------------------------------------------------


def test_gtzan_schema_matches_the_hub(gtz):
    f = gtz.features
    assert list(f) == ["file", "audio", "genre"]
    assert f["file"] == Value("string")
    assert isinstance(f["genre"], ClassLabel) and f["genre"].names == REAL_GENRES == GENRES
    assert isinstance(f["audio"], Audio) and f["audio"].sampling_rate == 22050
    names = gtz["file"]
    assert all(re.fullmatch(r"(%s)\.\d{5}\.wav" % "|".join(REAL_GENRES), n) for n in names)
    per = {g: sum(n.startswith(g + ".") for n in names) for g in REAL_GENRES}
    assert len(set(per.values())) == 1 and per["blues"] >= 5, per
    assert [REAL_GENRES[g] for g in gtz["genre"]] == [n.split(".")[0] for n in names]


def test_gtzan_has_one_corrupt_file_and_every_other_clip_decodes(gtz):
    bad = []
    for row in _raw(gtz):
        try:
            audio = load_audio(row["audio"], None)
        except AudioDecodeError as error:
            bad.append((row["file"], str(error)))
            continue
        n = len(audio)
        assert n == 5 * 22050, row["file"]  # exact length: no render tail
        tail = audio[-2205:]
        assert np.sqrt(np.mean(tail.astype(np.float64) ** 2)) > 1e-4, f"{row['file']} ends in silence"
        assert np.sqrt(np.mean(audio[:2205].astype(np.float64) ** 2)) > 1e-4, f"{row['file']} starts silent"
        assert float(np.abs(audio).max()) < 0.99, f"{row['file']} is clipped"
    assert len(bad) == 1 and bad[0][0].startswith("jazz."), bad
    assert bad[0][0] in bad[0][1]  # the error names the file


def test_gtzan_baseline_is_above_chance_but_not_trivial(gtz, capsys):
    from scipy import signal
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from transformers.audio_utils import mel_filter_bank

    mel = mel_filter_bank(num_frequency_bins=513, num_mel_filters=64, min_frequency=20, max_frequency=11025,
                          sampling_rate=22050, norm="slaney", mel_scale="slaney")
    X, y = [], []
    for row in _raw(gtz):
        try:
            audio = load_audio(row["audio"], 22050)
        except AudioDecodeError:
            continue
        _, _, spec = signal.stft(audio, nperseg=1024, noverlap=512)
        logmel = np.log(mel.T @ (np.abs(spec) ** 2) + 1e-8)
        X.append(np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)]))
        y.append(row["genre"])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    acc = float(cross_val_score(clf, np.array(X), np.array(y), cv=cv).mean())
    with capsys.disabled():
        print(f"\n[gtzan tiny] log-mel statistics + logistic regression, 4-fold CV accuracy: {acc:.2f} (chance 0.10)")
    assert 0.25 < acc < 0.95, acc


# --- both ---------------------------------------------------------------------------------------


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


def test_same_seed_gives_byte_identical_parquet(built, tmp_path):
    """Rebuilt in parallel (one process per build) against the sequential build: same bytes."""
    result = _build_all(tmp_path, jobs=2)
    assert {r["status"] for r in result.values()} == {"built"}
    for name in ("esc50", "gtzan"):
        first = built[name].parent  # the whole stand-in: every revision folder
        again = tmp_path / "tiny" / "datasets" / name
        assert _hashes(first) and _hashes(first) == _hashes(again), name
        assert (first / "main" / "README.md").read_text() == (again / "main" / "README.md").read_text()


def test_build_prints_per_label_counts(built):
    s = built["summary"]
    assert s["esc50"]["failed"] == 0 and s["gtzan"]["failed"] == 0
    assert set(s["gtzan"]["per_genre"]) == set(REAL_GENRES)
    assert all(v == 5 for v in s["esc50"]["per_category"].values())


# --- faults ---------------------------------------------------------------------------------------


@needs_tools
def test_esc50_missing_source_is_skipped_and_counted(tmp_path):
    keep = [s for s in esc50.catalogue() if s.category in ("cow", "rain")]
    gone = esc50._stamp("cow", "animals/mammals/bovines/no_such_cow.ogg")
    lines: list[str] = []
    summary = esc50.build(tmp_path / "ds", size="tiny", seed=0, log=lines.append, sources=keep + [gone])
    assert summary["failed"] == 1 and "no_such_cow.ogg" in summary["failures"][0]
    assert any("no_such_cow.ogg" in line and "skipped" in line for line in lines)
    assert summary["per_category"]["rain"] == 5 and 0 < summary["per_category"]["cow"] <= 5
    ds = datasets.load_dataset(str(tmp_path / "ds"), split="train", cache_dir=str(tmp_path / "hf_cache"))
    assert len(ds) == summary["rows"] and set(ds["category"]) == {"cow", "rain"}


@needs_tools
def test_gtzan_failed_render_is_skipped_and_counted(tmp_path):
    fonts = (gtzan.SOUNDFONTS[1], str(tmp_path / "missing.sf2"))
    lines: list[str] = []
    summary = gtzan.build(tmp_path / "out", size="tiny", seed=0, log=lines.append, per_genre=1, seconds=2,
                          soundfonts=fonts)
    expected_bad = sum(j["soundfont"] == fonts[1] and j["file"] != summary["corrupt"]
                       for j in gtzan.jobs("tiny", 0, 1, 2, fonts))
    assert expected_bad > 0 and summary["failed"] == expected_bad
    assert sum(summary["per_genre"].values()) == summary["rows"] == 10 - expected_bad
    assert any("fluidsynth failed" in line for line in lines)


def test_missing_tools_name_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    for module in (gtzan, esc50):
        msgs = module.missing_tools()
        assert any("apt-get install fluidsynth" in m for m in msgs), module.__name__


@needs_tools
def test_gtzan_with_no_working_soundfont_fails_rather_than_writing_empty_data(tmp_path):
    with pytest.raises(RuntimeError, match="no clip could be rendered"):
        gtzan.build(tmp_path, size="tiny", seed=0, log=lambda line: None, per_genre=1, seconds=2,
                    soundfonts=(str(tmp_path / "missing.sf2"),), workers=1)
