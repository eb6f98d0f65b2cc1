"""What the stand-in checkpoint builders share: reading a built corpus, saving, the model card.

Every stand-in is a folder that ``from_pretrained`` / ``pipeline(...)`` loads: safetensors
weights, ``config.json`` with the real checkpoint's label names, the feature extractor (and, for
CLAP, the tokenizer), and a README.md model card that says plainly that it is a small stand-in,
how it was trained and how well it did on data it never saw.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import layout, store
from ..store import standin_dir


def load_split(builder: str, config: str | None, split: str, size: str):
    """A split of a built stand-in corpus, read from its folder (raises a clear error if it is not built)."""
    hub_id = next(r.hub_id for r in layout.DATASETS.values() if r.builder == builder and not r.standin_only)
    if config == "all" and "all" in layout.DATASETS[hub_id].absent:  # FLEURS: every language, as `all` was
        return load_configs(builder, split, size)
    return store.load_standin(hub_id, config, split, size)


def load_configs(builder: str, split: str, size: str, skip: tuple[str, ...] = ("all",)):
    """Every per-language config of a corpus, concatenated (what MINDS-14's ``all`` config holds)."""
    from datasets import concatenate_datasets

    hub_id = next(r.hub_id for r in layout.DATASETS.values() if r.builder == builder and not r.standin_only)
    names = [c for c in store.configs_on_disk(hub_id, size) if c not in skip]
    return concatenate_datasets([load_split(builder, c, split, size) for c in names])


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def label_maps(names: list[str]) -> dict[str, dict]:
    """``id2label``/``label2id`` keyword arguments for a config, in the given order."""
    return {"id2label": {i: n for i, n in enumerate(names)}, "label2id": {n: i for i, n in enumerate(names)}}


def save(out_dir: Path, model, *processors) -> None:
    """``save_pretrained`` the model (safetensors) and its processors into ``out_dir``."""
    model.save_pretrained(out_dir, safe_serialization=True)
    for p in processors:
        p.save_pretrained(out_dir)
    stray = [p.name for p in out_dir.glob("*.bin")]
    if stray:  # the contract is safetensors only
        raise RuntimeError(f"unexpected pickle weights written: {stray}")


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_card(
    out_dir: Path,
    *,
    hub_id: str,
    model_class: str,
    summary: str,
    architecture: dict[str, Any],
    params: int,
    data: str,
    seed: int,
    size: str,
    train: dict[str, Any],
    results: dict[str, Any],
    notes: list[str] = (),
) -> None:
    """README.md: stand-in for <hub_id>, architecture and size, data, seed, time, held-out results."""
    arch = "\n".join(f"| {k} | {fmt(v)} |" for k, v in architecture.items())
    res = "\n".join(f"| {k} | {fmt(v)} |" for k, v in results.items())
    # Evaluation figures belong in the results table; a training summary may carry them too.
    train = {k: v for k, v in train.items() if not k.startswith("eval_")}
    tr = "\n".join(f"| {k} | {fmt(v)} |" for k, v in train.items())
    lines = [
        "---",
        "library_name: transformers",
        "tags:",
        "- offline-stand-in",
        "- audio-classification",
        f"base_model_relation: stand-in for {hub_id}",
        "---",
        "",
        f"# Offline stand-in for `{hub_id}`",
        "",
        f"**This is NOT `{hub_id}`.** It is a small `{model_class}` trained on this machine by the",
        "course's build (`python -m course_offline build`) so that the notebooks run offline with the",
        "same code, classes and label names as the real checkpoint. Its accuracy says nothing about",
        "the real model's.",
        "",
        summary,
        "",
        "## Architecture",
        "",
        f"`{model_class}`, {params:,} parameters.",
        "",
        "| setting | value |",
        "|---|---|",
        arch,
        "",
        "## Training",
        "",
        data,
        "",
        "| | |",
        "|---|---|",
        f"| build size | {size} |",
        f"| seed | {seed} |",
        tr,
        f"| machine | {platform.machine()}, torch {torch.__version__} |",
        "",
        "## Results on held-out data (never seen in training)",
        "",
        "| metric | value |",
        "|---|---|",
        res,
        "",
    ]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    (out_dir / "README.md").write_text("\n".join(lines))
    (out_dir / "standin_results.json").write_text(json.dumps({"hub_id": hub_id, "size": size, "seed": seed, "params": params, "train": train, "results": results}, indent=2, default=str))


def top1(logits: np.ndarray, labels: np.ndarray) -> float:
    from course_utils.metrics import accuracy

    return accuracy(np.argmax(logits, axis=-1), labels)


# --- a fixed filter-bank front end for the raw-waveform models (Wav2Vec2, HuBERT) --------------------
#
# Learning a raw-waveform conv stack from scratch costs most of the CPU budget and learns slowly.
# Instead the conv "feature encoder" is set to a fixed Gabor filter bank and frozen, as fine-tuning
# recipes freeze it (``model.freeze_feature_encoder()``). Its output can then be cached once, and
# training spends its budget on the transformer. The model is still an ordinary checkpoint.

BANDS = 40
FRONT_END = dict(
    # layer 0: 4 filters per band (+cos, -cos, +sin, -sin), 25 ms windows every 5 ms;
    # layer 1: sums GELU(+x) + GELU(-x) ~ |x| over each band's 4 channels -> a magnitude envelope;
    # layer 2: averages 8 envelope samples -> 25 frames/s (the real models run at 50; half the
    # sequence costs a quarter of the attention and was enough here).
    # Layer 0 is trainable when notebook 05 fine-tunes (as in the published recipe) and was most of
    # its CPU time: a 5-ms hop instead of 2.5 took a step of 8 x 10 s from 426 to 233 ms and the
    # from-random build (one fine-tuning) from 180 to 101 s, back to back; from the base
    # 0.939 -> 0.909 (seeds 0 and 1 both 0.909), from random weights 0.808 -> 0.768 (course size,
    # benchmarks/RESULTS.md, session 16).
    conv_dim=(4 * BANDS, BANDS, BANDS),
    conv_kernel=(400, 1, 8),
    conv_stride=(80, 1, 8),
    conv_bias=False,
    feat_extract_norm="group",
)


def gabor_front_end(model, sampling_rate: int = 16000, fmin: float = 60.0, fmax: float = 7600.0) -> None:
    """Set the conv feature encoder of a Wav2Vec2/HuBERT model (built with ``FRONT_END``) to a
    mel-spaced Gabor filter bank and freeze it."""
    base = getattr(model, "wav2vec2", None) or getattr(model, "hubert", None) or model
    layers = base.feature_extractor.conv_layers
    n = 400
    t = (np.arange(n) - n / 2) / sampling_rate
    mel = np.linspace(2595 * np.log10(1 + fmin / 700), 2595 * np.log10(1 + fmax / 700), BANDS)
    freqs = 700 * (10 ** (mel / 2595) - 1)
    window = np.hanning(n)
    w0 = np.zeros((4 * BANDS, 1, n))
    for k, f in enumerate(freqs):
        c, s = window * np.cos(2 * np.pi * f * t), window * np.sin(2 * np.pi * f * t)
        c, s = c / np.linalg.norm(c), s / np.linalg.norm(s)
        w0[4 * k : 4 * k + 4, 0] = [c, -c, s, -s]
    w1 = np.zeros((BANDS, 4 * BANDS, 1))
    for k in range(BANDS):
        w1[k, 4 * k : 4 * k + 4, 0] = 1.0
    hop = layers[2].conv.kernel_size[0]  # envelope samples averaged per frame
    w2 = np.zeros((BANDS, BANDS, hop))
    w2[np.arange(BANDS), np.arange(BANDS), :] = 1 / hop
    with torch.no_grad():
        layers[0].conv.weight.copy_(torch.from_numpy(w0).float())
        layers[0].layer_norm.weight.fill_(1.0)
        layers[0].layer_norm.bias.zero_()
        layers[1].conv.weight.copy_(torch.from_numpy(w1).float())
        layers[2].conv.weight.copy_(torch.from_numpy(w2).float())
    base.feature_extractor._freeze_parameters()


def _padded(frames: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-clip ``(frames, channels)`` arrays zero-padded to the longest, with a frame mask."""
    longest = max(len(f) for f in frames)
    feats = np.zeros((len(frames), longest, frames[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(frames), longest), dtype=np.int64)
    for i, f in enumerate(frames):
        feats[i, : len(f)] = f
        mask[i, : len(f)] = 1
    return {"features": feats, "frame_mask": mask}


@torch.no_grad()
def front_end_features(model, arrays: list[np.ndarray], max_frames: int) -> dict[str, np.ndarray]:
    """Frozen conv features of each clip, computed clip by clip (no padding leaks into the
    per-clip normalisation), zero-padded to the longest clip (at most ``max_frames``), with a
    frame mask."""
    base = getattr(model, "wav2vec2", None) or getattr(model, "hubert", None) or model
    out = []
    with _clip_by_clip_convs():
        for a in arrays:
            x = torch.from_numpy(np.asarray(a, dtype=np.float32))[None]
            x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)  # what the feature extractor's do_normalize does
            out.append(base.feature_extractor(x)[0].transpose(0, 1)[:max_frames].numpy())
    return _padded(out)


def _clip_by_clip_convs():
    """Context for running conv layers over many clips of different lengths, one at a time.

    oneDNN (torch's default CPU convolution) builds a kernel for each input length it has not
    seen, and clips come in many lengths: without it, the log front end took 5.6 ms a clip instead
    of 11.3 and HuBERT's conv encoder 4.5 instead of 10.1 (1-7 s clips, one thread; 3.8 and 2.7
    when all clips have one length). Results differ from oneDNN's by float rounding only."""
    return torch.backends.mkldnn.flags(enabled=False)


class CachedEncoderClassifier(torch.nn.Module):
    """Trains the layers after the frozen feature encoder of a ``*ForSequenceClassification``
    (Wav2Vec2/HuBERT) on cached encoder features; the parameters are the model's own, so the
    trained model is saved as usual."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, features, frame_mask, labels=None):
        m = self.model
        base = getattr(m, "wav2vec2", None) or getattr(m, "hubert", None)
        proj = base.feature_projection(features)
        hidden = proj[0] if isinstance(proj, tuple) else proj
        hidden = base.encoder(hidden, attention_mask=frame_mask.bool()).last_hidden_state
        hidden = m.projector(hidden)
        w = frame_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * w).sum(1) / w.sum(1).clamp(min=1)
        logits = m.classifier(pooled)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits} if loss is not None else {"logits": logits}


# --- a log-compressed filter-bank front end (frozen) with trainable conv layers on top -------------
#
# The Gabor front end above delivers linear magnitudes: loud vowels dominate, quiet consonants
# vanish. This one makes the frozen part of the conv stack compute a log-compressed mel-like
# spectrogram, using only what a Wav2Vec2/HuBERT conv stack has (convolutions with bias, layer 0's
# GroupNorm, GELU after every layer):
#   layer 0: Gabor pairs (+cos, -cos, +sin, -sin) per band, window length matched to the band's
#            width; its GroupNorm (one group per channel) divides each band by its RMS over the
#            clip, which in the log domain is a per-band mean subtraction (speaker/channel
#            normalisation); the norm's gain puts GELU in its ReLU-like range, so
#            GELU(+x) + GELU(-x) ~ |x|;
#   layer 1: 1x1, sums the 4 rectified channels of a band -> magnitude envelope (+ an offset that
#            keeps the following GELUs in their identity range);
#   layer 2: averages LOG_HOP envelope samples -> one frame every 40 ms;
#   layer 3: 1x1, LOG_KNOTS copies of each band, copy k = GELU(g_k (x - t_k)) ~ g_k ReLU(x - t_k)
#            for knots t_k in a geometric series;
#   layer 4: 1x1, a weighted sum of those ramps = the piecewise-linear interpolation of
#            log(max(x, t_0)) through the knots (flat above the last), plus an offset so that the
#            final GELU passes it unchanged;
#   layer 5: LOG_CMN_FRAMES taps, each band minus its mean over a 1 s window around the frame (a
#            sliding cepstral-mean normalisation), twice: +(x - mean) and -(x - mean), so that
#            after GELU (GELU(u) - GELU(-u) = u) nothing is lost and the trainable layers get
#            inputs near zero mean (fed the all-positive log bands, ~3-23, they stayed at chance).
# Layers after these are ordinary trainable conv layers (a small CNN over the log spectrogram).

LOG_BANDS = 40
LOG_STRIDE = 80  # layer 0 hop: 5 ms at 16 kHz
LOG_HOP = 8  # envelope samples per frame: 40 ms frames, 25 frames/s
LOG_KNOTS = 16  # knots 2x apart: 16 of them cover 96 dB
LOG_GAIN = 8.0  # layer 0 GroupNorm gain
LOG_FLOOR = 1e-3  # lowest knot, relative to a band's RMS over the clip
LOG_OFFSET = 3.0  # offset that keeps the frozen GELUs in their (near) identity range
LOG_SCALE = 2.0  # output = LOG_SCALE * log(magnitude) = log(power), as a log-mel spectrogram
LOG_CMN_FRAMES = 25  # layer 5: subtract each band's mean over a 1 s sliding window
LOG_CMN_SCALE = 0.5  # layer 5's gain
LOG_FROZEN_LAYERS = 6


def log_front_end_config(trainable: tuple[tuple[int, int, int], ...] = ()) -> dict:
    """Wav2Vec2/HuBERT config keywords for the log front end (5 frozen layers) followed by
    ``trainable`` conv layers given as ``(channels, kernel, stride)``."""
    b, k = LOG_BANDS, LOG_KNOTS
    dims, kernels, strides = [4 * b, b, b, b * k, b, 2 * b], [400, 1, LOG_HOP, 1, 1, LOG_CMN_FRAMES], [LOG_STRIDE, 1, LOG_HOP, 1, 1, 1]
    for c, kern, s in trainable:
        dims.append(c), kernels.append(kern), strides.append(s)
    return dict(conv_dim=tuple(dims), conv_kernel=tuple(kernels), conv_stride=tuple(strides),
                conv_bias=True, feat_extract_norm="group")


def log_front_end(model, sampling_rate: int = 16000, fmin: float = 60.0, fmax: float = 3800.0) -> None:
    """Set the first ``LOG_FROZEN_LAYERS`` conv layers of a model built with
    ``log_front_end_config`` to the log filter bank and freeze them (the later layers stay
    trainable)."""
    base = getattr(model, "wav2vec2", None) or getattr(model, "hubert", None) or model
    layers = base.feature_extractor.conv_layers
    b, n = LOG_BANDS, 400
    mel = np.linspace(2595 * np.log10(1 + fmin / 700), 2595 * np.log10(1 + fmax / 700), b)
    freqs = 700 * (10 ** (mel / 2595) - 1)
    spacing = np.gradient(freqs)
    w0 = np.zeros((4 * b, 1, n))
    for i, f in enumerate(freqs):
        # a Hann window's -6 dB bandwidth is 2 fs / length: match it to the band spacing
        length = int(min(n, max(64, round(2 * sampling_rate / spacing[i]))))
        t = (np.arange(length) - length / 2) / sampling_rate
        window = np.hanning(length)
        c, s = window * np.cos(2 * np.pi * f * t), window * np.sin(2 * np.pi * f * t)
        c, s = c / np.linalg.norm(c), s / np.linalg.norm(s)
        lo = (n - length) // 2
        w0[4 * i : 4 * i + 4, 0, lo : lo + length] = [c, -c, s, -s]
    w1 = np.zeros((b, 4 * b, 1))
    for i in range(b):
        w1[i, 4 * i : 4 * i + 4, 0] = 1.0
    w2 = np.zeros((b, b, LOG_HOP))
    w2[np.arange(b), np.arange(b), :] = 1 / LOG_HOP
    knots = LOG_GAIN * LOG_FLOOR * 2.0 ** np.arange(LOG_KNOTS)
    gains = 4.0 / knots  # GELU's soft corner spans ~1/4 of the gap to the next knot
    slopes = np.log(2.0) / np.diff(np.append(knots, 2 * knots[-1]))  # slope of log between knots
    slopes[-1] = 0.0  # flat above the last knot
    ramps = np.diff(np.concatenate([[0.0], slopes]))  # change of slope at each knot
    w3 = np.zeros((b * LOG_KNOTS, b, 1))
    b3 = np.zeros(b * LOG_KNOTS)
    w4 = np.zeros((b, b * LOG_KNOTS, 1))
    for i in range(b):
        rows = i * LOG_KNOTS + np.arange(LOG_KNOTS)
        w3[rows, i, 0] = gains
        b3[rows] = -gains * (knots + LOG_OFFSET)  # the envelope carries the offset from layer 1
        w4[i, rows, 0] = LOG_SCALE * ramps / gains
    w5 = np.zeros((b, b, LOG_CMN_FRAMES))
    w5[np.arange(b), np.arange(b), :] = -1.0 / LOG_CMN_FRAMES
    w5[np.arange(b), np.arange(b), LOG_CMN_FRAMES // 2] += 1.0
    w5 = LOG_CMN_SCALE * np.concatenate([w5, -w5])
    to = lambda a: torch.from_numpy(np.asarray(a)).float()  # noqa: E731
    with torch.no_grad():
        layers[0].conv.weight.copy_(to(w0))
        layers[0].conv.bias.zero_()
        layers[0].layer_norm.weight.fill_(LOG_GAIN)
        layers[0].layer_norm.bias.zero_()
        layers[1].conv.weight.copy_(to(w1))
        layers[1].conv.bias.fill_(LOG_OFFSET)
        layers[2].conv.weight.copy_(to(w2))
        layers[2].conv.bias.zero_()
        layers[3].conv.weight.copy_(to(w3))
        layers[3].conv.bias.copy_(to(b3))
        layers[4].conv.weight.copy_(to(w4))
        layers[4].conv.bias.fill_(LOG_OFFSET)  # LOG_SCALE * (log(max(x, t0)) - log(t0)) + offset
        layers[5].conv.weight.copy_(to(w5))
        layers[5].conv.bias.zero_()
    for layer in layers[:LOG_FROZEN_LAYERS]:
        for p in layer.parameters():
            p.requires_grad = False


@torch.no_grad()
def partial_front_end_features(model, arrays: list[np.ndarray], n_layers: int, max_frames: int) -> dict[str, np.ndarray]:
    """Output of the first ``n_layers`` conv layers for each clip (normalised as the feature
    extractor's ``do_normalize`` does, clip by clip), zero-padded, with a frame mask."""
    base = getattr(model, "wav2vec2", None) or getattr(model, "hubert", None) or model
    layers = base.feature_extractor.conv_layers[:n_layers]
    out = []
    with _clip_by_clip_convs():
        for a in arrays:
            x = torch.from_numpy(np.asarray(a, dtype=np.float32))[None]
            x = ((x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7))[:, None]
            for layer in layers:
                x = layer(x)
            out.append(x[0].transpose(0, 1)[:max_frames].numpy())
    return _padded(out)


@torch.no_grad()
def center_first_trainable(model, features: np.ndarray, frame_mask: np.ndarray, n_cached: int) -> None:
    """Data-dependent initialisation: shift the bias of the first trainable conv layer so that its
    pre-activations start centred (the frozen log front end's output is all positive, ~3-20; left
    as it is, the first GELUs start saturated and training stalls)."""
    base = getattr(model, "wav2vec2", None) or getattr(model, "hubert", None) or model
    conv = base.feature_extractor.conv_layers[n_cached].conv
    valid = frame_mask.astype(bool)
    mean = torch.from_numpy(features[valid].mean(0).astype(np.float32))  # per input channel
    conv.bias -= conv.weight.sum(-1) @ mean


def _interp(x: torch.Tensor, pos: torch.Tensor, dim: int) -> torch.Tensor:
    """Linear interpolation of ``x`` at fractional positions ``pos`` along ``dim`` (``pos``
    broadcastable to ``x``; clamped to the ends)."""
    n = x.shape[dim]
    # The weights are computed at pos's own (small) shape and broadcast: the same numbers as
    # computing them at x's shape, for a fraction of the work.
    lo = pos.floor().clamp(0, n - 1)
    frac = (pos - lo).clamp(0, 1)
    lo_i, hi_i = lo.long(), (lo + 1).clamp(max=n - 1).long()
    shape = list(x.shape)
    if dim == 1 and x.dim() == pos.dim() == 3 and pos.shape[2] == 1:  # whole frames move: a row gather is faster
        rows = torch.arange(shape[0])[:, None]
        return x[rows, lo_i[..., 0]] * (1 - frac) + x[rows, hi_i[..., 0]] * frac
    take = lambda i: torch.gather(x, dim, i.expand(shape))  # noqa: E731
    return take(lo_i) * (1 - frac) + take(hi_i) * frac


def augment_log_bands(
    features: torch.Tensor,
    frame_mask: torch.Tensor,
    *,
    band_shift: float = 0.0,
    speed: float = 0.0,
    time_masks: tuple[int, int] = (0, 0),
    band_masks: tuple[int, int] = (0, 0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training-time augmentation of cached log front-end features ``(batch, frames, 2 * LOG_BANDS)``
    (``GELU(+u)``, ``GELU(-u)`` of each band's mean-removed log energy), using torch's global RNG
    (seeded by the Trainer, so the same seed gives the same model):

    - ``band_shift``: shift the band axis by up to +-``band_shift`` bands (fractional), a
      vocal-tract-length / pitch-like warp: a new voice is mostly a shifted spectral envelope;
    - ``speed``: resample the time axis by a factor in ``exp(+-speed)`` (speaking rate);
    - ``time_masks`` ``(n, width)``: ``n`` stretches of up to ``width`` frames set to 0 (= the
      band's local mean); ``band_masks`` ``(n, width)``: the same over bands (SpecAugment).
    """
    x, mask = features, frame_mask
    b, t, c = x.shape
    if band_shift:
        pos = torch.arange(LOG_BANDS, dtype=x.dtype)[None, None] + torch.empty(b, 1, 1).uniform_(-band_shift, band_shift)
        # Each group of LOG_BANDS channels (GELU(+u), GELU(-u)) shifts the same way: one gather over all groups.
        x = _interp(x.reshape(b, t, c // LOG_BANDS, LOG_BANDS), pos[:, :, None], 3).reshape(b, t, c)
    if speed:
        rate = torch.exp(torch.empty(b).uniform_(-speed, speed))
        pos = torch.arange(t, dtype=x.dtype)[None] * rate[:, None]
        x = _interp(x, pos[..., None], 1)
        lengths = torch.floor(mask.sum(1) / rate).clamp(max=t).long()
        mask = (torch.arange(t)[None] < lengths[:, None]).to(frame_mask.dtype)
        x = x * mask[..., None]
    n, width = time_masks
    for _ in range(n):
        w = torch.randint(0, width + 1, (b,))
        start = (torch.rand(b) * (mask.sum(1) - w).clamp(min=1)).long()
        frames = torch.arange(t)[None]
        x = x * ~((frames >= start[:, None]) & (frames < (start + w)[:, None]))[..., None]
    n, width = band_masks
    for _ in range(n):
        w = torch.randint(0, width + 1, (b,))
        start = (torch.rand(b) * (LOG_BANDS - w)).long()
        bands = torch.arange(LOG_BANDS)[None]
        keep = ~((bands >= start[:, None]) & (bands < (start + w)[:, None]))
        x = x * keep.repeat(1, c // LOG_BANDS)[:, None, :]
    return x, mask


class PartlyCachedClassifier(torch.nn.Module):
    """Like ``CachedEncoderClassifier``, but the cached features are the output of the first
    ``n_cached`` conv layers; the remaining (trainable) conv layers run here. The parameters are
    the model's own, so the trained model is saved as usual. ``augment``: keyword arguments of
    ``augment_log_bands``, applied to the cached features in training mode only;
    ``label_smoothing``: of the training loss (cross-entropy)."""

    def __init__(self, model, n_cached: int, augment: dict | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.model = model
        self.n_cached = n_cached
        self.augment = dict(augment or {})
        self.label_smoothing = label_smoothing

    def forward(self, features, frame_mask, labels=None):
        m = self.model
        base = getattr(m, "wav2vec2", None) or getattr(m, "hubert", None)
        if self.training and self.augment:
            features, frame_mask = augment_log_bands(features, frame_mask, **self.augment)
        x = features.transpose(1, 2)
        lengths = frame_mask.sum(1)
        for layer in base.feature_extractor.conv_layers[self.n_cached :]:
            x = layer(x)
            k, s = layer.conv.kernel_size[0], layer.conv.stride[0]
            lengths = torch.div(lengths - k, s, rounding_mode="floor") + 1
        mask = (torch.arange(x.shape[2])[None] < lengths[:, None]).long()
        logits = CachedEncoderClassifier(m).forward(x.transpose(1, 2), mask)["logits"]
        if labels is None:
            return {"logits": logits}
        smoothing = self.label_smoothing if self.training else 0.0
        return {"loss": torch.nn.functional.cross_entropy(logits, labels, label_smoothing=smoothing), "logits": logits}
