"""The bad-audio matrix (issue 8): every file a learner might feed the course either decodes to a
finite mono float32 array at the requested rate, with the right content, or raises
``AudioDecodeError`` naming the file and the problem. Long files stay memory-bounded and can be
classified in chunks.

All files are generated here: soundfile for WAV/FLAC/OGG, ffmpeg for MP3/Opus/M4A.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from conftest import peak_frequency, sine
from course_utils import AudioDecodeError, load_audio
from course_utils.preprocessing import classify_long, iter_chunks

pytestmark = pytest.mark.reliability

RATE = 16000
TONE = sine(440, 1.0, RATE)  # amplitude 0.5: RMS 0.3536
LONG_SECONDS = 600


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-nostdin", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name -> path of each generated file."""
    d = tmp_path_factory.mktemp("matrix")
    out = {}

    def wav(name, data, rate=RATE, **kw):
        sf.write(d / name, data, rate, **kw)
        out[name] = d / name

    for subtype in ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]:
        wav(f"{subtype}.wav", TONE, subtype=subtype)
    for rate in [8000, 22050, 44100, 48000]:
        wav(f"rate{rate}.wav", sine(440, 1.0, rate), rate, subtype="PCM_16")
    wav("stereo.wav", np.stack([sine(440, 1.0), sine(1000, 1.0)], axis=1), subtype="FLOAT")
    wav("loud.wav", 4 * TONE, subtype="FLOAT")  # peak 2.0: a float WAV may exceed +-1
    wav("10ms.wav", TONE[:160], subtype="PCM_16")
    wav("1frame_stereo.wav", np.array([[0.25, 0.75]], dtype=np.float32), subtype="FLOAT")
    nan, inf = TONE.copy(), TONE.copy()
    nan[100], inf[200] = np.nan, -np.inf
    wav("nan.wav", nan, subtype="FLOAT")
    wav("inf.wav", inf, subtype="FLOAT")
    wav("flac.flac", TONE, format="FLAC")
    wav("ogg.ogg", TONE, format="OGG", subtype="VORBIS")
    for ext in ["mp3", "opus", "m4a"]:
        ffmpeg("-i", str(d / "PCM_16.wav"), str(d / f"ffmpeg.{ext}"))
        out[f"ffmpeg.{ext}"] = d / f"ffmpeg.{ext}"

    good = (d / "PCM_16.wav").read_bytes()
    for name, data in {
        "empty.wav": b"",
        "text.wav": b"this is a shopping list, not audio\n" * 20,
        "truncated_header.wav": good[:30],
        "header_only.wav": good[:44],
        "random.mp3": np.random.default_rng(0).bytes(20000),
    }.items():
        (d / name).write_bytes(data)
        out[name] = d / name
    (d / "x.wav").mkdir()
    out["x.wav"] = d / "x.wav"
    out["missing.wav"] = d / "missing.wav"
    return out


def rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))


def check_good(a: np.ndarray, *, length: int, rate: int = RATE, freq: float = 440.0, rms_value=0.3536, tol=0.02):
    assert a.dtype == np.float32 and a.ndim == 1 and np.isfinite(a).all()
    assert abs(len(a) - length) <= 0.06 * length + 2, (len(a), length)  # lossy codecs pad a little
    assert abs(peak_frequency(a, rate) - freq) < 3
    assert rms(a) == pytest.approx(rms_value, rel=tol)


# --- files that must decode, with the right content ---------------------------------------------------

GOOD = {
    "PCM_U8.wav": 0.03,  # 8-bit quantisation noise
    "PCM_16.wav": 0.002,
    "PCM_24.wav": 0.001,
    "PCM_32.wav": 0.001,
    "FLOAT.wav": 0.001,
    "DOUBLE.wav": 0.001,
    "flac.flac": 0.002,
    "ogg.ogg": 0.05,
    "ffmpeg.mp3": 0.06,
    "ffmpeg.opus": 0.05,
    "ffmpeg.m4a": 0.06,
}


@pytest.mark.parametrize("name", GOOD)
@pytest.mark.parametrize("rate", [16000, 22050])
def test_formats_decode_to_the_same_tone(files, name, rate):
    a = load_audio(files[name], rate)
    check_good(a, length=rate, rate=rate, tol=GOOD[name])


@pytest.mark.parametrize("name", ["PCM_16.wav", "flac.flac", "ffmpeg.mp3", "ffmpeg.m4a"])
def test_bytes_and_dicts_match_the_path(files, name):
    path = files[name]
    from_path = load_audio(path)
    data = path.read_bytes()
    np.testing.assert_array_equal(load_audio(data), from_path)
    np.testing.assert_array_equal(load_audio({"bytes": data, "path": name}), from_path)
    np.testing.assert_array_equal(load_audio({"path": str(path), "bytes": None}), from_path)


@pytest.mark.parametrize("source_rate", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("target", [8000, 16000, 48000])
def test_any_rate_resamples_and_keeps_the_tone(files, source_rate, target):
    a = load_audio(files[f"rate{source_rate}.wav"], target)
    check_good(a, length=target, rate=target, tol=0.01)
    kept = load_audio(files[f"rate{source_rate}.wav"], None)  # None keeps the file's rate
    assert len(kept) == source_rate


def test_stereo_is_the_mean_of_the_channels(files):
    a = load_audio(files["stereo.wav"])
    np.testing.assert_allclose(a, (sine(440, 1.0) + sine(1000, 1.0)) / 2, atol=1e-6)
    # A one-frame stereo file is one mono sample, not two (the layout is known from the file).
    np.testing.assert_allclose(load_audio(files["1frame_stereo.wav"], None), [0.5])


def test_values_beyond_one_are_kept_not_clipped(files):
    a = load_audio(files["loud.wav"])
    assert np.isfinite(a).all()
    assert float(np.abs(a).max()) == pytest.approx(2.0, rel=1e-4)


def test_a_10ms_clip(files):
    assert len(load_audio(files["10ms.wav"])) == 160
    a = load_audio(files["10ms.wav"], 48000)
    assert len(a) == 480 and np.isfinite(a).all()


# --- files that must fail clearly ------------------------------------------------------------------

BAD = {
    "empty.wav": "empty file",
    "text.wav": "not a decodable audio file",
    "truncated_header.wav": "not a decodable audio file",
    "header_only.wav": "zero length",
    "nan.wav": "1 samples are NaN or Inf",
    "inf.wav": "1 samples are NaN or Inf",
    "random.mp3": "not a decodable audio file",
    "x.wav": "is a directory",
    "missing.wav": "no such file",
}


@pytest.mark.parametrize("name", BAD)
def test_bad_files_raise_naming_file_and_problem(files, name):
    with pytest.raises(AudioDecodeError) as info:
        load_audio(files[name])
    message = str(info.value)
    assert str(files[name]) in message and BAD[name] in message
    assert info.value.source == str(files[name])
    # No noise from the decoders' internals in what a learner reads.
    assert ".cpp:" not in message and "object at 0x" not in message


@pytest.mark.parametrize("name", [n for n in BAD if n not in ("x.wav", "missing.wav")])
def test_bad_bytes_and_dicts_raise_too(files, name):
    data = files[name].read_bytes()
    problem = "empty" if not data else BAD[name]
    with pytest.raises(AudioDecodeError, match=problem):
        load_audio(data)
    with pytest.raises(AudioDecodeError) as info:
        load_audio({"bytes": data, "path": f"learner/{name}"} if data else {"path": str(files[name])})
    assert name in str(info.value)


@pytest.mark.parametrize(
    "source, problem",
    [
        ({"array": np.array([0.1, np.nan], dtype=np.float32), "sampling_rate": 16000}, "NaN or Inf"),
        ({"array": np.zeros(0, dtype=np.float32), "sampling_rate": 16000}, "zero length"),
        ({"array": np.zeros(10, dtype=np.float32)}, "no 'sampling_rate'"),
        ({"array": np.array(["a", "b"]), "sampling_rate": 16000}, "not audio"),
        ({"array": np.zeros((2, 2, 2), dtype=np.float32), "sampling_rate": 16000}, "shape"),
        ({"something": 1}, "none of"),
        (12345, "unsupported source type"),
    ],
)
def test_bad_in_memory_sources(source, problem):
    with pytest.raises(AudioDecodeError, match=problem):
        load_audio(source)


def test_in_memory_arrays_int_and_channels_first():
    pcm = (TONE * 32767).astype(np.int16)
    check_good(load_audio((pcm, RATE)), length=RATE, tol=0.001)
    stereo = np.stack([sine(440, 1.0), sine(1000, 1.0)])  # (channels, frames)
    np.testing.assert_allclose(load_audio({"array": stereo, "sampling_rate": RATE}), stereo.mean(0), atol=1e-6)


def test_datasets_audio_decoder(files, tmp_path):
    """Rows of a real datasets folder decode to AudioDecoder objects; load_audio takes them."""
    from datasets import Audio, Features, Value, load_dataset

    from course_offline import layout
    from course_offline.builders._writer import write_split

    rows = [
        {"file": "mono44k.wav", "audio": {"array": sine(440, 1.0, 44100), "sampling_rate": 44100, "path": "mono44k.wav"}},
        {"file": "stereo8k.wav", "audio": {"array": np.stack([sine(440, 1.0, 8000)] * 2, 1), "sampling_rate": 8000, "path": "stereo8k.wav"}},
        {"file": "mp3", "audio": {"bytes": files["ffmpeg.mp3"].read_bytes(), "path": "clip.mp3"}},
    ]
    features = Features({"file": Value("string"), "audio": Audio()})
    write_split(tmp_path, layout.DATASETS["ashraq/esc50"], "default", "train", rows, features)  # main/data/...
    # A private cache: datasets keys its cache by folder name and config, not by content.
    ds = load_dataset(str(tmp_path / "main"), split="train", cache_dir=str(tmp_path / "hf_cache"))
    for row in ds:
        assert type(row["audio"]).__name__ == "AudioDecoder"
        check_good(load_audio(row["audio"], 16000), length=16000, tol=0.07)
        assert len(load_audio(row["audio"], 16000, max_seconds=0.5)) == 8000

    from torchcodec.decoders import AudioDecoder

    check_good(load_audio(AudioDecoder(str(files["ffmpeg.opus"]))), length=RATE, tol=0.05)


# --- long files ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_files(tmp_path_factory):
    """A 10-minute 440 Hz tone as 16-bit WAV (libsndfile path) and as M4A/AAC (FFmpeg path)."""
    d = tmp_path_factory.mktemp("long")
    with sf.SoundFile(d / "long.wav", "w", RATE, 1, subtype="PCM_16") as f:
        block = sine(440, 10.0, RATE, amp=0.3)  # 4400 whole periods: blocks join seamlessly
        for _ in range(LONG_SECONDS // 10):
            f.write(block)
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={RATE}:duration={LONG_SECONDS}", "-b:a", "32k", str(d / "long.m4a"))
    return {"wav": d / "long.wav", "m4a": d / "long.m4a"}


PEAK_RSS = textwrap.dedent(
    """
    import json, sys
    from course_utils import load_audio

    def rss_and_peak():  # KiB
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        return int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0])

    def growth(seconds):
        # Reset the peak ("5" > clear_refs) so import-time peaks do not hide the decode's.
        open("/proc/self/clear_refs", "w").write("5")
        before, _ = rss_and_peak()
        n = len(load_audio(path, 16000, max_seconds=seconds))
        return n, (rss_and_peak()[1] - before) * 1024

    path = sys.argv[1]
    load_audio(path, 16000, max_seconds=0.1)  # warm: import the decoders, touch the file
    (n_short, short), (n_full, full) = growth(10.0), growth(None)
    print(json.dumps({"n_short": n_short, "short": short, "n_full": n_full, "full": full}))
    """
)


@pytest.mark.parametrize("kind", ["wav", "m4a"])
def test_max_seconds_bounds_memory_on_a_10_minute_file(long_files, kind):
    """Peak RSS growth for the first 10 s of a 10-minute file is a small fraction of the full decode's."""
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux /proc/self/clear_refs to reset the peak RSS")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(long_files[kind])], capture_output=True, text=True, timeout=180, env=env
    )
    assert result.returncode == 0, result.stderr
    m = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"{kind}: peak RSS growth {m['short'] / 2**20:.1f} MiB for 10 s, {m['full'] / 2**20:.1f} MiB for 600 s")
    assert m["n_short"] == 10 * RATE
    assert abs(m["n_full"] - LONG_SECONDS * RATE) < 0.01 * LONG_SECONDS * RATE
    result_bytes = LONG_SECONDS * RATE * 4  # the float32 result alone
    assert m["full"] >= 0.9 * result_bytes  # the measurement sees the full decode ...
    assert m["short"] < 0.1 * m["full"]  # ... and the bounded one costs under a tenth of it


def test_max_seconds_in_process_with_tracemalloc(long_files):
    tracemalloc.start()
    try:
        a = load_audio(long_files["wav"], 16000, max_seconds=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    check_good(a, length=5 * RATE, rms_value=0.3 / np.sqrt(2), tol=0.002)
    assert peak < 5 * RATE * 4 * 4  # a few copies of the 5-s result, not the 38 MB file


def test_invalid_max_seconds(files):
    with pytest.raises(ValueError, match="max_seconds"):
        load_audio(files["PCM_16.wav"], max_seconds=0)


def test_iter_chunks_streams_a_file(long_files):
    for kind in ["wav", "m4a"]:
        starts = []
        for start, chunk in iter_chunks(long_files[kind], RATE, 60.0, max_seconds=150):
            starts.append(start)
            assert chunk.dtype == np.float32 and np.isfinite(chunk).all()
            assert abs(peak_frequency(chunk, RATE) - 440) < 1
        assert starts == [0.0, 60.0, 120.0]
        assert len(chunk) == pytest.approx(30 * RATE, abs=RATE * 0.05)


# --- classifying a long file ---------------------------------------------------------------------


def tiny_classifier(folder):
    """A real (untrained) HuBERT audio classifier, the GTZAN model's class, with a small conv front end
    (total stride 80) so that a 10-minute file classifies in about a second of CPU."""
    import torch
    from transformers import HubertConfig, HubertForSequenceClassification, Wav2Vec2FeatureExtractor, pipeline

    torch.manual_seed(0)
    labels = ["low", "mid", "high"]
    config = HubertConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16,
        num_labels=3, id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
    )  # fmt: skip
    HubertForSequenceClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=RATE, do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return pipeline("audio-classification", model=str(folder), device="cpu")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    return tiny_classifier(tmp_path_factory.mktemp("tiny_ast"))


def scores(result) -> dict[str, float]:
    return {d["label"]: d["score"] for d in result}


def test_classify_long_averages_chunk_scores(classifier, tmp_path):
    # 6 s of a low tone, then 6 s of a high one; both periodic within each 2-s model input.
    low, high = sine(250, 2.0, RATE), sine(3000, 2.0, RATE)
    path = tmp_path / "two_tones.wav"
    sf.write(path, np.concatenate([low] * 3 + [high] * 3), RATE, subtype="FLOAT")
    one = lambda a: scores(classifier({"raw": a, "sampling_rate": RATE}, top_k=None))
    s_low, s_high = one(low), one(high)
    assert max(abs(s_low[k] - s_high[k]) for k in s_low) > 1e-4  # the two halves score differently

    ranked, chunks = classify_long(classifier, path, chunk_seconds=2, top_k=None, return_chunks=True)
    assert [c["start"] for c in chunks] == [0, 2, 4, 6, 8, 10]
    got = scores(ranked)
    for label in s_low:
        assert got[label] == pytest.approx((s_low[label] + s_high[label]) / 2, abs=1e-5)
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-5)
    assert [d["score"] for d in ranked] == sorted(got.values(), reverse=True)

    # An explained truncation: only the first 6 s count.
    first = scores(classify_long(classifier, path, chunk_seconds=2, max_seconds=6, top_k=None))
    for label in s_low:
        assert first[label] == pytest.approx(s_low[label], abs=1e-5)
    # The same from an in-memory source, and top_k.
    assert len(classify_long(classifier, (sf.read(path, dtype="float32")[0], RATE), top_k=2)) == 2


def test_classify_long_10_minute_file_memory_bounded(classifier, long_files):
    tracemalloc.start()
    try:
        # The default chunk for a model without a fixed input length is 10 s: 60 of them.
        ranked, chunks = classify_long(classifier, long_files["wav"], return_chunks=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(chunks) == LONG_SECONDS // 10
    assert sum(d["score"] for d in ranked) == pytest.approx(1.0, abs=1e-5)
    # A few copies of one 10-s chunk (0.64 MB each), far below the 38 MB of a full decode.
    assert peak < 0.2 * LONG_SECONDS * RATE * 4
    # All chunks of a steady tone look alike, so the mean equals any chunk's scores.
    one = scores(classify_long(classifier, long_files["wav"], max_seconds=10, top_k=None))
    for d in ranked:
        assert d["score"] == pytest.approx(one[d["label"]], abs=1e-4)


def test_classify_long_via_ffmpeg_and_bad_files(classifier, long_files, files):
    ranked, chunks = classify_long(classifier, long_files["m4a"], chunk_seconds=60, max_seconds=180, return_chunks=True)
    assert len(chunks) == 3 and len(ranked) == 3
    for name in ["text.wav", "missing.wav", "x.wav", "nan.wav"]:
        with pytest.raises(AudioDecodeError, match=str(files[name]).replace(".", r"\.")):
            classify_long(classifier, files[name])
    # A short file is one (short) chunk, not an error.
    assert len(classify_long(classifier, files["10ms.wav"])) == 3
