"""Corrupt rows in a dataset (issue 8): preprocessing and training skip a clip that cannot be
decoded, log it once by its identifier, count it and carry on; too many failures stop with a
clear error. Runs on a real GTZAN-like dataset folder written with the builders' writer.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from conftest import sine
from course_utils import load_audio
from course_offline import layout
from course_offline.builders._writer import write_split
from course_utils.preprocessing import (
    AudioPreprocessor,
    TooManyBadClips,
    filter_decodable,
    undecoded,
    with_preprocessing,
)

pytestmark = pytest.mark.reliability

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
RATE = 22050  # GTZAN's
LOGGER = "course_utils.preprocessing"


def gtzan_like(folder, n: int, bad: set[int]):
    """A folder with GTZAN's schema (file, audio, genre); rows in ``bad`` hold a corrupt blob."""
    from datasets import Audio, ClassLabel, Features, Value, load_dataset

    features = Features({"file": Value("string"), "audio": Audio(sampling_rate=RATE), "genre": ClassLabel(names=GENRES)})

    def rows():
        for i in range(n):
            genre = i % len(GENRES)
            name = f"{GENRES[genre]}.{i:05d}.wav"
            if i in bad:  # a WAV header with garbage after it, like GTZAN's jazz.00054.wav
                audio = {"bytes": b"RIFF\x24\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4, "path": name}
            else:
                audio = {"array": sine(200 + 40 * i, 1.0, RATE, amp=0.1 + 0.02 * i), "sampling_rate": RATE, "path": name}
            yield {"file": name, "audio": audio, "genre": genre}

    gtzan_repo = layout.DATASETS["marsyas/gtzan"]
    write_split(folder, gtzan_repo, "all", "train", rows(), features)
    # A private cache: datasets keys its cache by folder name and config, not by content.
    return load_dataset(str(folder / layout.folder_name(gtzan_repo.revision)), data_dir="all", split="train",
                        cache_dir=str(folder / "hf_cache"))


N, BAD = 12, 5


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return gtzan_like(tmp_path_factory.mktemp("gtzan"), N, {BAD})


@pytest.fixture(scope="module")
def extractor():
    from transformers import Wav2Vec2FeatureExtractor

    # distilhubert's: 16 kHz, per-clip normalisation, attention mask.
    return Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True)


def bad_name():
    return f"{GENRES[BAD % 10]}.{BAD:05d}.wav"


def skip_records(caplog):
    return [r for r in caplog.records if r.name == LOGGER and "skipping undecodable clip" in r.getMessage()]


def test_the_corrupt_row_really_breaks_plain_access(ds):
    """Why the helpers exist: datasets itself raises on the corrupt row."""
    with pytest.raises(Exception):
        ds[BAD]["audio"]["array"]
    assert ds[0]["audio"]["array"].shape == (RATE,)


def test_filter_decodable_drops_logs_once_and_counts(ds, caplog):
    caplog.set_level(logging.WARNING, LOGGER)
    good = filter_decodable(ds, "audio", id_column="file")
    assert len(good) == N - 1
    assert bad_name() not in good["file"]
    records = skip_records(caplog)
    assert len(records) == 1 and bad_name() in records[0].getMessage()
    assert "not a decodable audio file" in records[0].getMessage()
    assert any("dropped 1 of 12" in r.getMessage() for r in caplog.records)
    # What is left decodes, with the original features, through the normal datasets path.
    assert good.features == ds.features
    for row in good:
        assert np.isfinite(row["audio"]["array"]).all()
    # A clean dataset comes back as it is.
    assert filter_decodable(good, "audio", id_column="file") is good


def test_too_many_failures_stop_with_a_clear_error(tmp_path, caplog):
    broken = gtzan_like(tmp_path, 10, {1, 3, 4, 8})  # 40 %
    with pytest.raises(TooManyBadClips) as info:
        filter_decodable(broken, "audio", id_column="file", max_fraction=0.25)
    message = str(info.value)
    assert "3 of 10 clips (30.0%)" in message and "max_fraction=25.0%" in message and "classical.00001.wav" in message
    # It stops as soon as the limit is passed: the fourth bad row (8) is never read.
    assert "reggae.00008.wav" not in caplog.text
    assert len(filter_decodable(broken, "audio", id_column="file", max_fraction=0.5)) == 6


def batches(dataset, prep, batch_size=4):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=prep.collate)
    return list(loader)


@pytest.mark.parametrize("mode", ["transform", "collator"])
def test_on_the_fly_preprocessing_skips_and_carries_on(ds, extractor, caplog, mode):
    caplog.set_level(logging.WARNING, LOGGER)
    prep = AudioPreprocessor(extractor, label_column="genre", id_column="file", max_seconds=0.5)
    data = with_preprocessing(ds, prep) if mode == "transform" else undecoded(ds)
    for epoch in range(2):
        got = batches(data, prep)
        labels = torch.cat([b["labels"] for b in got]).tolist()
        assert labels == [i % 10 for i in range(N) if i != BAD]
        for b in got:
            x = b["input_values"]
            assert x.dtype == torch.float32 and x.shape[1] == 8000  # 0.5 s at the extractor's 16 kHz
            assert b["attention_mask"].shape == x.shape
            # The feature extractor's normalisation ran: zero mean, unit variance per clip.
            np.testing.assert_allclose(x.mean(1).numpy(), 0, atol=1e-3)
            np.testing.assert_allclose(x.std(1).numpy(), 1, atol=1e-2)
    records = skip_records(caplog)
    assert len(records) == 1 and bad_name() in records[0].getMessage()  # once, over two epochs
    assert (prep.skips.seen, prep.skips.failed) == (2 * N, 2)
    assert list(prep.skips.bad) == [bad_name()]


def test_values_match_a_direct_decode(ds, extractor):
    prep = AudioPreprocessor(extractor, label_column="genre", id_column="file")
    out = prep(undecoded(ds)[:3])
    direct = extractor([load_audio(ds[i]["audio"], 16000) for i in range(3)], sampling_rate=16000)
    for a, b in zip(out["input_values"], direct["input_values"]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert out["labels"] == [0, 1, 2]


def test_eager_map_drops_the_row(ds, extractor):
    prep = AudioPreprocessor(extractor, label_column="genre", id_column="file", max_seconds=0.25)
    encoded = undecoded(ds).map(prep, batched=True, batch_size=4, remove_columns=ds.column_names)
    assert len(encoded) == N - 1
    assert set(encoded.column_names) == {"input_values", "attention_mask", "labels"}
    assert len(encoded[0]["input_values"]) == 4000


def test_a_batch_with_only_the_bad_clip_repeats_the_last_good_one(ds, extractor):
    prep = AudioPreprocessor(extractor, label_column="genre", id_column="file", max_seconds=0.25)
    got = batches(with_preprocessing(ds, prep), prep, batch_size=1)
    assert len(got) == N  # the step for the bad row still has an input ...
    assert torch.equal(got[BAD]["input_values"], got[BAD - 1]["input_values"])  # ... the previous clip


def test_on_the_fly_stops_when_too_many_fail(tmp_path, extractor):
    broken = gtzan_like(tmp_path, 10, {0, 2, 3, 5, 7})  # 50 %
    prep = AudioPreprocessor(extractor, label_column="genre", id_column="file", max_fraction=0.2, min_seen=8)
    with pytest.raises(TooManyBadClips, match=r"of 8 clips"):
        batches(with_preprocessing(broken, prep), prep)


def test_trainer_runs_through_the_corrupt_clip(ds, extractor, tmp_path, caplog):
    """A real (tiny) Trainer fine-tuning on the dataset with its corrupt clip: it finishes."""
    from transformers import HubertConfig, HubertForSequenceClassification, Trainer, TrainingArguments

    caplog.set_level(logging.WARNING, LOGGER)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = HubertConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16,
        num_labels=len(GENRES),
    )  # fmt: skip
    model = HubertForSequenceClassification(config)
    prep = AudioPreprocessor(extractor, label_column="genre", id_column="file", max_seconds=0.5)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_train_epochs=2,
        learning_rate=1e-3, save_strategy="no", report_to=[], use_cpu=True, seed=0,
        remove_unused_columns=False,  # the collator needs the raw audio column
        dataloader_num_workers=0, disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=undecoded(ds), data_collator=prep.collate)
    result = trainer.train()
    assert result.global_step == 2 * 3  # 12 rows, batches of 4, 2 epochs
    assert np.isfinite(result.training_loss)
    assert len(skip_records(caplog)) == 1
    assert prep.skips.failed == 2


def test_decode_split_skips_like_fine_tuning_and_stops_past_max_fraction(tmp_path):
    """The stand-in builds' eager decoding uses the same SkipLog as on-the-fly preprocessing."""
    from datasets import Audio, ClassLabel, Features, Value, load_dataset

    from course_utils.preprocessing import TooManyBadClips
    from course_utils.training import decode_split

    features = Features({"file": Value("string"), "audio": Audio(sampling_rate=16000),
                         "genre": ClassLabel(names=["a", "b"])})
    rows = [{"file": f"{i}.wav", "audio": {"array": sine(300 + 10 * i, 0.2), "sampling_rate": 16000,
                                           "path": f"{i}.wav"}, "genre": i % 2} for i in range(9)]
    rows.insert(4, {"file": "bad.wav", "audio": {"bytes": b"RIFF not really", "path": "bad.wav"}, "genre": 0})
    write_split(tmp_path / "ds", layout.DATASETS["ashraq/esc50"], "default", "train", rows, features)  # main/data/
    ds = load_dataset(str(tmp_path / "ds" / "main"), split="train", cache_dir=str(tmp_path / "cache"))

    arrays, kept = decode_split(ds, max_fraction=0.2, log=lambda s: None)
    assert len(arrays) == 9 and 4 not in kept and kept == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    np.testing.assert_allclose(arrays[4], load_audio(rows[5]["audio"], 16000), atol=1e-4)
    with pytest.raises(TooManyBadClips, match="1 of 10 clips"):
        decode_split(ds, max_fraction=0.05, log=lambda s: None)
