"""load_audio: every kind of source gives the same samples at the requested rate.

The full bad-input matrix lives in test_bad_audio.py; this file checks the normal paths agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from course_utils import AudioDecodeError, load_audio, to_pipeline_input

from conftest import peak_frequency, sine


def test_every_source_kind_agrees(sine_wav):
    reference = load_audio(sine_wav, 16000)
    assert reference.dtype == np.float32 and reference.ndim == 1
    assert len(reference) == 16000
    assert abs(peak_frequency(reference, 16000) - 440) < 2  # the tone survives resampling

    raw, rate = sf.read(sine_wav, dtype="float32")
    from torchcodec.decoders import AudioDecoder

    sources = {
        "str": str(sine_wav),
        "bytes": sine_wav.read_bytes(),
        "array dict": {"array": raw, "sampling_rate": rate},
        "bytes dict": {"bytes": sine_wav.read_bytes(), "path": "sine.wav"},
        "path dict": {"bytes": None, "path": str(sine_wav)},
        "(array, rate)": (raw, rate),
        "gradio (rate, int16)": (rate, (raw * 32767).astype(np.int16)),
        "tensor": torch.from_numpy(raw),
        "AudioDecoder": AudioDecoder(str(sine_wav)),
    }
    for kind, source in sources.items():
        kwargs = {"source_rate": rate} if kind == "tensor" else {}
        got = load_audio(source, 16000, **kwargs)
        np.testing.assert_allclose(got, reference, atol=2e-3, err_msg=kind)


def test_keep_rate_and_max_seconds(sine_wav):
    native = load_audio(sine_wav, None)
    assert len(native) == 44100
    head = load_audio(sine_wav, 16000, max_seconds=0.25)
    assert len(head) == 4000


def test_stereo_is_averaged(tmp_path):
    left, right = sine(300, 0.5), np.zeros(8000, dtype=np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, 16000), (left + right) / 2, atol=1e-6)


def test_errors_name_the_source_and_problem(tmp_path):
    with pytest.raises(AudioDecodeError, match=r"nowhere\.wav: no such file"):
        load_audio(tmp_path / "nowhere.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match=r"empty\.wav: empty file"):
        load_audio(empty)
    bad = sine(440, 0.1)
    bad[10] = np.nan
    with pytest.raises(AudioDecodeError, match="1 samples are NaN or Inf"):
        load_audio({"array": bad, "sampling_rate": 16000})
    with pytest.raises(AudioDecodeError, match="needs source_rate"):
        load_audio(np.zeros(10, dtype=np.float32))
    assert issubclass(AudioDecodeError, ValueError)


def test_pipeline_input_is_at_the_model_rate(sine_wav):
    item = to_pipeline_input({"bytes": sine_wav.read_bytes(), "path": "x.wav"}, 16000)
    assert item["sampling_rate"] == 16000 and len(item["raw"]) == 16000
