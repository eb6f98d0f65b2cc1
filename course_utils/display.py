"""Playback and plots for the lessons: players, waveforms, log-mel spectrograms, confusion matrices, top-k.

Every function takes audio in any form ``load_audio`` accepts (a datasets ``AudioDecoder``, a
``{"array", "sampling_rate"}`` dict, a path, bytes, an ``(array, rate)`` tuple). Players and plots use
the clip's TRUE sampling rate: the published course played 44.1 kHz ESC-50 clips at 16 kHz, which
makes them sound slow and low. Plot functions show the figure and return ``None``; pass
``show=False`` to get the ``Figure`` back instead (for tests or further drawing).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .audio import AudioDecodeError, describe_source, load_audio

__all__ = [
    "native_rate",
    "audio_and_rate",
    "player",
    "play",
    "log_mel",
    "plot_waveform",
    "plot_spectrogram",
    "plot_clip",
    "plot_confusion",
    "format_topk",
]


# --- the clip's own rate --------------------------------------------------------------------------


def native_rate(audio: Any, sampling_rate: int | None = None) -> int:
    """The rate a clip was recorded at. ``sampling_rate`` is required for a bare array."""
    if type(audio).__name__ == "AudioDecoder":
        return int(audio.metadata.sample_rate)
    if isinstance(audio, dict):
        if audio.get("sampling_rate"):
            return int(audio["sampling_rate"])
        if audio.get("bytes"):
            return native_rate(bytes(audio["bytes"]))
        if audio.get("path"):
            return native_rate(str(audio["path"]))
    if isinstance(audio, tuple) and len(audio) == 2:
        first, second = audio
        return int(first) if np.ndim(first) == 0 and np.ndim(second) == 1 else int(second)
    if isinstance(audio, (str, bytes, bytearray)) or hasattr(audio, "__fspath__"):
        return _file_rate(audio)
    if sampling_rate is None:
        raise AudioDecodeError(describe_source(audio), "an array needs sampling_rate= (its rate)")
    return int(sampling_rate)


def _file_rate(source) -> int:
    import io

    import soundfile as sf

    try:
        handle = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else str(source)
        return int(sf.info(handle).samplerate)
    except Exception:  # not a libsndfile format (e.g. MP3): ask FFmpeg
        from torchcodec.decoders import AudioDecoder

        try:
            return int(AudioDecoder(bytes(source) if isinstance(source, bytearray) else source).metadata.sample_rate)
        except Exception as error:
            raise AudioDecodeError(describe_source(source), f"cannot read its sampling rate: {error}") from None


def audio_and_rate(audio: Any, sampling_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a clip at its own rate: ``(mono float32 array, rate)``."""
    rate = native_rate(audio, sampling_rate)
    return load_audio(audio, None, source_rate=rate), rate


# --- playback -------------------------------------------------------------------------------------


def player(audio: Any, sampling_rate: int | None = None):
    """An ``IPython.display.Audio`` player at the clip's true rate (not the model's)."""
    from IPython.display import Audio

    array, rate = audio_and_rate(audio, sampling_rate)
    peak = float(np.abs(array).max())
    # Play at the recorded level; rescale only what would clip (IPython rejects |x| > 1 unnormalised,
    # and normalising an all-zero clip divides by zero).
    return Audio(array, rate=rate, normalize=peak > 1.0)


def play(audio: Any, sampling_rate: int | None = None) -> None:
    """Show a player for a clip in the notebook."""
    from IPython.display import display

    display(player(audio, sampling_rate))


# --- plots ----------------------------------------------------------------------------------------


def log_mel(array: np.ndarray, rate: int, n_mels: int = 80, hop_seconds: float = 0.01) -> np.ndarray:
    """Log-mel spectrogram in dB (80 dB range), shape (n_mels, frames): 25 ms Hann windows, ``hop_seconds`` hop."""
    from transformers.audio_utils import mel_filter_bank

    frame = int(round(0.025 * rate))
    fft = 1 << (frame - 1).bit_length()
    hop = max(1, int(round(hop_seconds * rate)))
    array = np.asarray(array, dtype=np.float32)
    if array.size < frame:  # a clip shorter than one window still gets one frame
        array = np.pad(array, (0, frame - array.size))
    # Vectorised STFT: a strided view of the frames, one rfft call (fast enough for 30 s clips).
    frames = np.lib.stride_tricks.sliding_window_view(array, frame)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(frame).astype(np.float32), n=fft, axis=1)) ** 2
    mels = mel_filter_bank(num_frequency_bins=fft // 2 + 1, num_mel_filters=n_mels, min_frequency=0.0,
                           max_frequency=rate / 2, sampling_rate=rate, norm="slaney", mel_scale="slaney")
    db = 10 * np.log10(np.maximum(power @ mels, 1e-10)).T
    return np.maximum(db, db.max() - 80.0).astype(np.float32)


def _finish(fig, show: bool):
    import matplotlib.pyplot as plt

    if show:
        plt.show()
        plt.close(fig)
        return None
    return fig


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    return plt.subplots(figsize=figsize, layout="constrained")


def _draw_waveform(ax, array, rate, title):
    duration = array.size / rate
    if array.size > 20_000:  # draw the min/max envelope: same picture, far fewer points to render
        buckets = np.array_split(array, 4000)
        t = np.linspace(0, duration, len(buckets))
        ax.fill_between(t, [b.min() for b in buckets], [b.max() for b in buckets], linewidth=0.3)
    else:
        ax.plot(np.arange(array.size) / rate, array, linewidth=0.6)
    ax.set(xlim=(0, duration), xlabel="time (s)", ylabel="amplitude")
    ax.set_title(title or f"waveform ({rate} Hz, {array.size / rate:.2f} s)")


def _draw_spectrogram(ax, array, rate, title, n_mels):
    spec = log_mel(array, rate, n_mels=n_mels)
    image = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma",
                      extent=(0, array.size / rate, 0, n_mels))
    ax.set(xlabel="time (s)", ylabel="mel bin")
    ax.set_title(title or f"log-mel spectrogram ({n_mels} mel bins, 0-{rate // 2} Hz)")
    return image


def plot_waveform(audio: Any, sampling_rate: int | None = None, *, title: str | None = None,
                  ax=None, show: bool = True):
    """Amplitude against time, with the time axis in seconds at the clip's true rate."""
    array, rate = audio_and_rate(audio, sampling_rate)
    fig, ax = _axes(ax, (9, 2.5))
    _draw_waveform(ax, array, rate, title)
    return _finish(fig, show)


def plot_spectrogram(audio: Any, sampling_rate: int | None = None, *, n_mels: int = 80,
                     title: str | None = None, ax=None, show: bool = True):
    """Log-mel spectrogram (dB) of a clip, at its true rate."""
    array, rate = audio_and_rate(audio, sampling_rate)
    fig, ax = _axes(ax, (9, 3))
    image = _draw_spectrogram(ax, array, rate, title, n_mels)
    fig.colorbar(image, ax=ax, format="%+.0f dB")
    return _finish(fig, show)


def plot_clip(audio: Any, sampling_rate: int | None = None, *, title: str | None = None,
              n_mels: int = 80, show: bool = True):
    """Waveform above log-mel spectrogram, sharing the time axis."""
    import matplotlib.pyplot as plt

    array, rate = audio_and_rate(audio, sampling_rate)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), layout="constrained")
    _draw_waveform(top, array, rate, None)
    image = _draw_spectrogram(bottom, array, rate, None, n_mels)
    # One colour bar spanning both rows keeps the two time axes aligned.
    fig.colorbar(image, ax=[top, bottom], format="%+.0f dB", shrink=0.6)
    if title:
        fig.suptitle(title)
    return _finish(fig, show)


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], *, title: str = "confusion matrix",
                   normalize: bool = False, show: bool = True):
    """Rows are true labels, columns predictions (as ``metrics.confusion`` builds them)."""
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    if matrix.shape != (len(labels), len(labels)):
        raise ValueError(f"matrix of shape {matrix.shape} for {len(labels)} labels")
    values = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    side = min(9.0, max(4.0, 0.3 * len(labels) + 2))
    fontsize = 10 if len(labels) <= 20 else 7
    fig, ax = plt.subplots(figsize=(side + 1, side), layout="constrained")
    image = ax.imshow(values, cmap="Blues", vmin=0)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(len(labels)), labels, fontsize=fontsize)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if len(labels) <= 20:  # numbers become unreadable beyond that
        limit = values.max() / 2 if values.size else 0
        for (i, j), v in np.ndenumerate(values):
            if matrix[i, j]:
                ax.text(j, i, f"{v:.2f}" if normalize else str(v), ha="center", va="center",
                        fontsize=8, color="white" if v > limit else "black")
    bar = fig.colorbar(image, ax=ax, fraction=0.046)
    if not normalize:  # counts: whole-number ticks only
        from matplotlib.ticker import MaxNLocator

        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    return _finish(fig, show)


# --- predictions ----------------------------------------------------------------------------------


def format_topk(predictions: Sequence[Mapping], k: int = 5, *, names: Mapping[str, str] | None = None,
                truth: str | None = None) -> str:
    """A pipeline's ``[{"label", "score"}, ...]`` as a ranked table; ``names`` maps labels to display
    names (e.g. language codes to languages); ``truth`` marks the correct label with ``<-``."""
    rows = sorted(predictions, key=lambda p: -p["score"])[:k]
    shown = [(names or {}).get(p["label"], p["label"]) for p in rows]
    width = max([len(s) for s in shown] + [5])
    lines = [f"{'rank':>4}  {'label':<{width}}  score"]
    for rank, (p, name) in enumerate(zip(rows, shown), 1):
        mark = "  <- true label" if truth is not None and p["label"] == truth else ""
        lines.append(f"{rank:>4}  {name:<{width}}  {p['score']:.3f}{mark}")
    return "\n".join(lines)
