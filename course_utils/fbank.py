"""The Audio Spectrogram Transformer's log-mel features, vectorised.

``ASTFeatureExtractor`` computes Kaldi-style filter banks with torchaudio where it is installed
and otherwise with a numpy routine that loops over frames in Python. This course runs without
torchaudio (it would force an old, multi-GB torch), so the stand-in build and batched inference
spend much of their time there. The same numbers from whole-array numpy operations: 4.6 -> 2.0 ms
per 1-s clip inside a pipeline, and many clips at once in the stand-in build (benchmarks/RESULTS.md)::

    extractor = fast_fbank(AutoFeatureExtractor.from_pretrained(model_id))  # same outputs, faster
"""

from __future__ import annotations

import numpy as np

__all__ = ["fast_fbank", "kaldi_fbank"]

FRAME, HOP, N_FFT = 400, 160, 512  # 25 ms windows every 10 ms at 16 kHz, as in ASTFeatureExtractor


def kaldi_fbank(extractor, arrays: list[np.ndarray], *, normalize: bool | None = None) -> np.ndarray:
    """``extractor(arrays)["input_values"]`` of an ``ASTFeatureExtractor``, for many clips at once.

    Same frames, window, pre-emphasis, DC removal, mel filters, zero padding / truncation to
    ``max_length`` and (when ``normalize``, default: the extractor's ``do_normalize``) the same
    normalisation. Returns float32 ``(clips, max_length, num_mel_bins)``.
    """
    max_len = extractor.max_length
    need = FRAME + HOP * (max_len - 1)
    batch = np.zeros((len(arrays), need), dtype=np.float64)
    n_frames = np.zeros(len(arrays), dtype=np.int64)
    for i, a in enumerate(arrays):
        a = np.asarray(a, dtype=np.float64).reshape(-1)
        if a.size < FRAME:
            raise ValueError(f"clip {i} has {a.size} samples; at least {FRAME} are needed")
        n_frames[i] = min(1 + (a.size - FRAME) // HOP, max_len)
        batch[i, : min(a.size, need)] = a[:need]
    frames = np.lib.stride_tricks.sliding_window_view(batch, FRAME, axis=1)[:, ::HOP][:, :max_len].copy()
    frames -= frames.mean(axis=-1, keepdims=True)
    frames[..., 1:] -= 0.97 * frames[..., :-1].copy()
    frames[..., 0] *= 1 - 0.97
    frames *= extractor.window
    power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=-1)) ** 2
    mel = np.log(np.maximum(1.192092955078125e-07, power @ extractor.mel_filters))
    mel[np.arange(max_len)[None, :] >= n_frames[:, None]] = 0.0  # the extractor zero-pads missing frames
    if extractor.do_normalize if normalize is None else normalize:
        mel = (mel - extractor.mean) / (extractor.std * 2)
    return mel.astype(np.float32)


def fast_fbank(extractor):
    """Return ``extractor`` (an ``ASTFeatureExtractor``) computing its filter banks with
    ``kaldi_fbank``: identical outputs, so a pipeline or a ``map`` can use it unchanged.

    A no-op where torchaudio is installed (the extractor then uses torchaudio's own fast routine).
    The extractor's class is swapped for a subclass of the same name, so its config, ``repr`` and
    ``save_pretrained`` stay exactly those of an ``ASTFeatureExtractor``.
    """
    from transformers.utils import is_speech_available

    if is_speech_available() or getattr(type(extractor), "_fast_fbank", False):
        return extractor

    def _extract_fbank_features(self, waveform: np.ndarray, max_length: int) -> np.ndarray:
        if max_length != self.max_length:
            raise ValueError(f"max_length {max_length} differs from the extractor's {self.max_length}")
        return kaldi_fbank(self, [waveform], normalize=False)[0]

    base = type(extractor)
    extractor.__class__ = type(base.__name__, (base,), {
        "_extract_fbank_features": _extract_fbank_features, "_fast_fbank": True, "__module__": base.__module__})
    return extractor
