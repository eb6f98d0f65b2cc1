"""course_utils.display: players at the clip's true rate, plots, top-k tables."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import soundfile as sf
from conftest import sine

from course_utils import AudioDecodeError, display


def wav_header(player) -> tuple[int, int]:
    """(rate, frames) of the WAV an IPython Audio player embeds."""
    info = sf.info(io.BytesIO(player.data))
    return info.samplerate, info.frames


def test_player_keeps_the_true_rate_of_a_44k_clip(sine_wav):
    from torchcodec.decoders import AudioDecoder

    for source in (AudioDecoder(str(sine_wav)), str(sine_wav), sine_wav.read_bytes(),
                   {"array": sine(440, 1.0, 44100), "sampling_rate": 44100}):
        # 1 s at 44.1 kHz: played at 16 kHz it would last 2.76 s.
        assert wav_header(display.player(source)) == (44100, 44100), type(source)


def test_player_of_a_bare_array_needs_its_rate():
    assert wav_header(display.player(sine(440, 0.5, 8000), sampling_rate=8000)) == (8000, 4000)
    with pytest.raises(AudioDecodeError, match="sampling_rate"):
        display.player(sine(440, 0.5, 8000))


def test_player_plays_silence_and_loud_clips_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        silent = display.player({"array": np.zeros(8000, np.float32), "sampling_rate": 8000})
        loud = display.player({"array": 3 * sine(440, 0.1, 16000), "sampling_rate": 16000})
    assert wav_header(silent) == (8000, 8000)
    samples, _ = sf.read(io.BytesIO(loud.data))
    assert np.abs(samples).max() <= 1.0


def test_native_rate_of_each_kind_of_source(sine_wav):
    assert display.native_rate(str(sine_wav)) == 44100
    assert display.native_rate({"bytes": sine_wav.read_bytes(), "path": "x.wav"}) == 44100
    assert display.native_rate((16000, np.zeros(10))) == 16000  # gradio's (rate, array)
    assert display.native_rate((np.zeros(10), 22050)) == 22050
    with pytest.raises(AudioDecodeError, match="nonexistent.wav"):
        display.native_rate("/nonexistent.wav")


def test_log_mel_puts_a_tone_in_the_right_band():
    rate = 16000
    spec = display.log_mel(sine(1000, 1.0, rate), rate, n_mels=80)
    assert spec.shape[0] == 80 and abs(spec.shape[1] - 98) <= 3  # 10 ms hop over 1 s
    assert spec.max() - spec.min() <= 80.0 + 1e-3
    low = display.log_mel(sine(300, 1.0, rate), rate, n_mels=80)
    assert low.mean(axis=1).argmax() < spec.mean(axis=1).argmax()  # lower tone, lower mel bin
    assert display.log_mel(np.zeros(10, np.float32), rate).shape == (80, 1)  # shorter than a window


def test_plots_use_seconds_at_the_true_rate(sine_wav):
    fig = display.plot_clip(str(sine_wav), title="a tone", show=False)
    waveform, spectrogram = fig.axes[:2]
    assert waveform.get_xlim() == pytest.approx((0, 1.0))
    assert spectrogram.get_images()[0].get_extent()[:2] == pytest.approx([0, 1.0])
    assert "44100 Hz" in waveform.get_title()
    assert display.plot_waveform(sine(440, 2.0, 8000), 8000, show=False).axes[0].get_xlim()[1] == pytest.approx(2.0)
    assert display.plot_spectrogram(str(sine_wav), n_mels=64, show=False).axes[0].get_images()[0].get_array().shape[0] == 64


def test_plot_confusion_annotates_counts_and_checks_shape():
    matrix = np.array([[3, 1], [0, 2]])
    fig = display.plot_confusion(matrix, ["a", "b"], show=False)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1", "2", "3"]  # zero cells stay blank
    normalised = display.plot_confusion(matrix, ["a", "b"], normalize=True, show=False)
    assert sorted(t.get_text() for t in normalised.axes[0].texts) == ["0.25", "0.75", "1.00"]
    with pytest.raises(ValueError, match="3 labels"):
        display.plot_confusion(matrix, ["a", "b", "c"], show=False)


def test_format_topk_ranks_names_and_marks_the_truth():
    preds = [{"label": "fr_fr", "score": 0.2}, {"label": "en_us", "score": 0.7}, {"label": "de_de", "score": 0.1}]
    lines = display.format_topk(preds, k=2, names={"en_us": "English"}, truth="en_us").splitlines()
    assert len(lines) == 3
    assert lines[1].split() == ["1", "English", "0.700", "<-", "true", "label"]
    assert lines[2].split() == ["2", "fr_fr", "0.200"]
