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

from ..hub import dataset_cache_dir, standin_dir


def load_split(builder: str, config: str | None, split: str, size: str):
    """A split of a built stand-in corpus (raises a clear error if it is not built)."""
    from datasets import load_dataset

    folder = standin_dir("dataset", builder, size)
    if not folder.is_dir():
        raise FileNotFoundError(f"the {builder!r} corpus ({size}) is not built: {folder} is missing")
    return load_dataset(str(folder), config, split=split, cache_dir=str(dataset_cache_dir(folder)))


def load_configs(builder: str, split: str, size: str, skip: tuple[str, ...] = ("all",)):
    """Every per-language config of a corpus, concatenated (what its ``all`` config holds)."""
    from datasets import concatenate_datasets, get_dataset_config_names

    folder = standin_dir("dataset", builder, size)
    if not folder.is_dir():
        raise FileNotFoundError(f"the {builder!r} corpus ({size}) is not built: {folder} is missing")
    names = [c for c in get_dataset_config_names(str(folder)) if c not in skip]
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
        "course's build (`python -m course_utils build`) so that the notebooks run offline with the",
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
    from ..metrics import accuracy

    return accuracy(np.argmax(logits, axis=-1), labels)


# --- a fixed filter-bank front end for the raw-waveform models (Wav2Vec2, HuBERT) --------------------
#
# Learning a raw-waveform conv stack from scratch costs most of the CPU budget and learns slowly.
# Instead the conv "feature encoder" is set to a fixed Gabor filter bank and frozen, as fine-tuning
# recipes freeze it (``model.freeze_feature_encoder()``). Its output can then be cached once, and
# training spends its budget on the transformer. The model is still an ordinary checkpoint.

BANDS = 40
FRONT_END = dict(
    # layer 0: 4 filters per band (+cos, -cos, +sin, -sin), 25 ms windows every 2.5 ms;
    # layer 1: sums GELU(+x) + GELU(-x) ~ |x| over each band's 4 channels -> a magnitude envelope;
    # layer 2: averages 16 envelope samples -> 25 frames/s (the real models run at 50; half the
    # sequence costs a quarter of the attention and was enough here).
    conv_dim=(4 * BANDS, BANDS, BANDS),
    conv_kernel=(400, 1, 16),
    conv_stride=(40, 1, 16),
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
    w2 = np.zeros((BANDS, BANDS, 16))
    w2[np.arange(BANDS), np.arange(BANDS), :] = 1 / 16
    with torch.no_grad():
        layers[0].conv.weight.copy_(torch.from_numpy(w0).float())
        layers[0].layer_norm.weight.fill_(1.0)
        layers[0].layer_norm.bias.zero_()
        layers[1].conv.weight.copy_(torch.from_numpy(w1).float())
        layers[2].conv.weight.copy_(torch.from_numpy(w2).float())
    base.feature_extractor._freeze_parameters()


@torch.no_grad()
def front_end_features(model, arrays: list[np.ndarray], max_frames: int) -> dict[str, np.ndarray]:
    """Frozen conv features of each clip, computed clip by clip (no padding leaks into the
    per-clip normalisation), zero-padded to the longest clip (at most ``max_frames``), with a
    frame mask."""
    base = getattr(model, "wav2vec2", None) or getattr(model, "hubert", None) or model
    out = []
    for a in arrays:
        x = torch.from_numpy(np.asarray(a, dtype=np.float32))[None]
        x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)  # what the feature extractor's do_normalize does
        out.append(base.feature_extractor(x)[0].transpose(0, 1)[:max_frames].numpy())
    longest = max(len(f) for f in out)
    feats = np.zeros((len(out), longest, out[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(out), longest), dtype=np.int64)
    for i, f in enumerate(out):
        feats[i, : len(f)] = f
        mask[i, : len(f)] = 1
    return {"features": feats, "frame_mask": mask}


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
