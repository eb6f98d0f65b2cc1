"""Loading and decoding audio: one function, ``load_audio``, for every kind of source.

Current ``datasets`` decodes audio to a torchcodec ``AudioDecoder`` rather than a dict, and the
transformers pipelines need torchaudio to resample a dict whose rate differs from the model's.
``load_audio`` hides both: whatever you give it, you get a finite mono float32 array at the rate
you ask for, resampled with ``soxr``; anything it cannot decode raises ``AudioDecodeError``
naming the source and the problem.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

__all__ = ["AudioDecodeError", "load_audio", "resample", "to_pipeline_input", "describe_source"]


class AudioDecodeError(ValueError):
    """Raised when a source cannot be turned into audio; the message names the source and the problem."""

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


def describe_source(source: Any) -> str:
    """A short human name for a source, used in error messages."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes of audio>"
    if isinstance(source, dict):
        if source.get("path"):
            return str(source["path"])
        return "<audio dict>"
    if type(source).__name__ == "AudioDecoder":
        return "<AudioDecoder>"
    if isinstance(source, tuple):
        return "<(array, rate) tuple>"
    return f"<{type(source).__name__}>"


def resample(array: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono float32 array with soxr (high quality, no torchaudio)."""
    if orig_sr == target_sr:
        return array
    return soxr.resample(array, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def load_audio(
    source: Any,
    sampling_rate: int | None = 16000,
    *,
    source_rate: int | None = None,
    max_seconds: float | None = None,
    name: str | None = None,
) -> np.ndarray:
    """Decode ``source`` to a finite mono float32 array at ``sampling_rate`` Hz.

    ``source`` may be a path, raw bytes, a ``{"array", "sampling_rate"}`` dict (or the
    ``{"bytes", "path"}`` dict of an undecoded ``datasets`` column), a datasets ``AudioDecoder``,
    an ``(array, rate)`` / gradio-style ``(rate, array)`` tuple, or an array with ``source_rate``.
    ``sampling_rate=None`` keeps the source's rate. ``max_seconds`` decodes only the first
    seconds, so a 10-minute file costs no more memory than a model input needs.
    """
    label = name or describe_source(source)
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds}")
    array, rate = _decode(source, source_rate, max_seconds, label)
    array = _to_mono_float32(array, label)
    if max_seconds is not None:
        array = array[: int(round(max_seconds * rate))]
    if array.size == 0:
        raise AudioDecodeError(label, "zero length: the audio holds no samples")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise AudioDecodeError(label, f"{bad} samples are NaN or Inf")
    if sampling_rate is not None and rate != sampling_rate:
        array = resample(array, rate, sampling_rate)
    return np.ascontiguousarray(array, dtype=np.float32)


def to_pipeline_input(audio: Any, sampling_rate: int, **kwargs) -> dict:
    """What an audio pipeline accepts for one clip, already at the model's ``sampling_rate``.

    Replaces the published course's ``example["audio"].copy()``: an ``AudioDecoder`` has no
    ``.copy()``, and a dict at another rate would need torchaudio inside the pipeline.
    """
    return {"raw": load_audio(audio, sampling_rate, **kwargs), "sampling_rate": sampling_rate}


# --- decoding, one branch per kind of source ---------------------------------------------------


def _decode(source, source_rate, max_seconds, label) -> tuple[np.ndarray, int]:
    if isinstance(source, (str, os.PathLike)):
        return _decode_path(Path(source), max_seconds, label)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise AudioDecodeError(label, "empty: no bytes")
        return _decode_file_like(data, max_seconds, label)
    if isinstance(source, dict):
        return _decode_dict(source, source_rate, max_seconds, label)
    if type(source).__name__ == "AudioDecoder":
        return _decode_with_torchcodec(source, max_seconds, label)
    if isinstance(source, tuple) and len(source) == 2:
        first, second = source
        if _is_rate(first) and not _is_rate(second):  # gradio's (rate, array)
            return _as_array(second, label), int(first)
        if _is_rate(second):
            return _as_array(first, label), int(second)
        raise AudioDecodeError(label, "a tuple must be (array, rate) or (rate, array)")
    if isinstance(source, (np.ndarray, list)) or hasattr(source, "numpy"):
        if source_rate is None:
            raise AudioDecodeError(label, "an array needs source_rate= (its sampling rate)")
        return _as_array(source, label), int(source_rate)
    raise AudioDecodeError(label, f"unsupported source type {type(source).__name__}")


def _decode_dict(source: dict, source_rate, max_seconds, label):
    if source.get("array") is not None:
        rate = source.get("sampling_rate") or source_rate
        if rate is None:
            raise AudioDecodeError(label, "dict has 'array' but no 'sampling_rate'")
        return _as_array(source["array"], label), int(rate)
    if source.get("raw") is not None:  # the pipeline's own input format
        rate = source.get("sampling_rate") or source_rate
        if rate is None:
            raise AudioDecodeError(label, "dict has 'raw' but no 'sampling_rate'")
        return _as_array(source["raw"], label), int(rate)
    if source.get("bytes"):
        return _decode_file_like(source["bytes"], max_seconds, label)
    if source.get("path"):
        return _decode_path(Path(source["path"]), max_seconds, label)
    raise AudioDecodeError(label, "dict has none of 'array', 'bytes' or 'path'")


def _decode_path(path: Path, max_seconds, label):
    if not path.exists():
        raise AudioDecodeError(label, "no such file")
    if path.is_dir():
        raise AudioDecodeError(label, "is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioDecodeError(label, "empty file (0 bytes)")
    return _decode_file_like(str(path), max_seconds, label)


def _decode_file_like(data: str | bytes, max_seconds, label):
    """libsndfile first (WAV/FLAC/OGG, reads only the frames asked for), then FFmpeg via torchcodec."""
    try:
        handle = io.BytesIO(data) if isinstance(data, bytes) else data
        with sf.SoundFile(handle) as f:
            frames = -1 if max_seconds is None else int(round(max_seconds * f.samplerate))
            array = f.read(frames=frames, dtype="float32", always_2d=True)
            # (frames, channels): average here, where the layout is known, so that a
            # header-only or one-frame file is not mistaken for channels-first by the guess below.
            return array.mean(axis=1, dtype=np.float32), int(f.samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError) as sf_error:
        first_problem = _sndfile_problem(sf_error)
    try:
        from torchcodec.decoders import AudioDecoder

        decoder = AudioDecoder(data)
    except Exception as error:  # torchcodec raises plain RuntimeError/ValueError for non-audio
        raise AudioDecodeError(
            label, f"not a decodable audio file (libsndfile: {first_problem}; ffmpeg: {_first_line(error)})"
        ) from None
    return _decode_with_torchcodec(decoder, max_seconds, label)


def _decode_with_torchcodec(decoder, max_seconds, label):
    try:
        if max_seconds is None:
            samples = decoder.get_all_samples()
        else:
            # MP3 streams start at their encoder delay (e.g. 0.069 s), not 0: count from there.
            begin = _stream_begin(decoder)
            samples = decoder.get_samples_played_in_range(begin, begin + float(max_seconds))
    except Exception as error:
        raise AudioDecodeError(label, f"decoding failed: {_first_line(error)}") from None
    # torchcodec returns (channels, frames).
    return samples.data.numpy().mean(axis=0, dtype=np.float32), int(samples.sample_rate)


def _stream_begin(decoder) -> float:
    begin = getattr(getattr(decoder, "metadata", None), "begin_stream_seconds", None)
    return float(begin) if begin and begin > 0 else 0.0


def _to_mono_float32(array: np.ndarray, label: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        array = _int_to_float(array)
    elif array.dtype.kind != "f":
        raise AudioDecodeError(label, f"samples of dtype {array.dtype} are not audio")
    array = array.astype(np.float32, copy=False)
    if array.ndim == 2:
        # Channels are the short axis: (frames, channels) from files, (channels, frames) from arrays.
        channel_axis = 1 if array.shape[1] <= array.shape[0] else 0
        array = array.mean(axis=channel_axis, dtype=np.float32)
    elif array.ndim != 1:
        raise AudioDecodeError(label, f"expected 1-D or 2-D samples, got shape {array.shape}")
    return array


def _int_to_float(array: np.ndarray) -> np.ndarray:
    info = np.iinfo(array.dtype)
    if info.min == 0:  # unsigned (8-bit WAV): centred on the midpoint
        mid = (info.max + 1) / 2
        return ((array.astype(np.float64) - mid) / mid).astype(np.float32)
    return (array.astype(np.float64) / -info.min).astype(np.float32)


def _as_array(value, label) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as error:
        raise AudioDecodeError(label, f"cannot read samples: {error}") from None


def _is_rate(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 < int(value) <= 1_000_000


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    # torchcodec prefixes "SingleStreamDecoder, /path/of/its/source.cpp:52, ": noise to a learner.
    return re.sub(r"^\w+, \S+\.cpp:\d+, ", "", line)


def _sndfile_problem(error: Exception) -> str:
    # "Error opening <_io.BytesIO object at 0x...>: Format not recognised." -> "Format not recognised."
    return re.sub(r"^Error opening .*?: ", "", _first_line(error))
