"""Will the real checkpoint fit this machine? A check to run BEFORE loading it.

The lessons' checkpoints are large (XLS-R and Whisper-medium have about 300 M parameters each) and
mybinder.org gives a session about 2 GB of memory; a model that does not fit there gets the kernel
killed halfway through loading, with no message. So a lesson asks first::

    from course_utils.sizing import plan_inference

    plan = plan_inference("anton-l/xtreme_s_xlsr_300m_minds14", 300, device=DEVICE, offline=OFFLINE)
    print(plan.reason)  # e.g. "CPU, bfloat16: 0.6 s per clip, so all 300 clips fit 10 minutes (about 3 minutes); ..."
    classifier = pipeline("audio-classification", model=checkpoint, device=DEVICE, **plan.load_kwargs)
    sample = sample.select(range(plan.n_clips))       # then classifier(..., batch_size=plan.batch_size)

``plan_inference`` picks the dtype (float32, or bfloat16 when float32 would not fit in the memory
left but bfloat16 would; one clip at a time when even the lesson's batch would not fit), how many
clips fit a time budget on a CPU (all of them on a GPU), and raises ``MachineTooSmall`` (what is
needed, what is available, what to do) when even bfloat16 would not fit. ``plan_training`` does
the same for lesson 5's fine-tuning steps.

The figures in ``MODEL_FOOTPRINT`` were measured by ``benchmarks/bench_real_sizes.py`` on the
real architectures (random weights, built from the published configs; the weights do not change
speed or memory) on a 2-core AMD EPYC with AVX-512 BF16, one torch thread, torch 2.13 (CPU),
transformers 5.25, at the lesson's batch size (``MEASURED``; benchmarks/RESULTS.md has the table).
Times are CPU seconds of one thread, which is the wall time on an idle machine; a machine with
more cores is faster, so a plan's clip count is on the safe side there. Memory is what the model
adds to a kernel that has imported torch and transformers, compared with what
``available_memory_gb()`` says is left (the kernel's own memory is already counted as used).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cgroups import cgroup_cpu_limit, cgroup_memory_left_gb

__all__ = [
    "BINDER_GB",
    "MEASURED",
    "MODEL_FOOTPRINT",
    "MachineTooSmall",
    "Plan",
    "available_memory_gb",
    "cgroup_cpu_limit",
    "cgroup_memory_left_gb",
    "footprint",
    "has_bf16_instructions",
    "plan_inference",
    "plan_training",
]

BINDER_GB = 2.0  # mybinder.org's memory limit per session
GB = 1e9
# Headroom on the measured needs: allocator fragmentation, clips longer than those measured, the
# rest of the notebook (plots, the dataset's buffers).
MARGIN = 1.15
MEASURED = ("2026-12-08, benchmarks/bench_real_sizes.py: 2-core AMD EPYC with AVX-512 and AVX-512 BF16, one torch "
            "thread, torch 2.13.0+cpu, transformers 5.25.0; real architectures with random weights, fp32 safetensors")

# Per checkpoint, measured at the lesson's batch size on synthetic clips of the lesson's length:
#   params_m     parameters (millions)
#   lesson_clips clips the lesson classifies at course size; batch_size: the lesson's
#   fp32 / bf16  loaded with dtype=torch.float32 / torch.bfloat16 (from an fp32 checkpoint):
#     peak_gb    peak RSS of the whole process, imports of torch and transformers included
#     need_gb    resident memory the model adds to a kernel that has imported them: its weights
#                (memory-mapped in fp32, copied in bf16) and activations. File pages read only while
#                converting fp32 weights to bf16 are page cache that a memory limit reclaims: left out.
#     s_per_clip CPU seconds per clip, batched as the lesson batches (one thread), on this CPU, which
#                has AVX-512 BF16 instructions: bfloat16 runs 2.5-3x faster than float32 here
#     s_per_clip_avx2  the same with torch's, oneDNN's and MKL's kernels capped at AVX2 (`--isa avx2`,
#                2-3 clips), as on a CPU without bfloat16 instructions: bfloat16 is then 3-7x SLOWER
#                than float32 (XLS-R 17.3 against 2.6 s per clip; Whisper 40.6 against 13.0)
#     load_s     CPU seconds to load (from the page cache; a first download takes longer)
#   train_10s / train_30s  (lesson 5) one fine-tuning step, batch 8 songs cut at 10 s / 30 s, AdamW:
#     s_per_step CPU seconds; peak_gb / need_gb as above
MODEL_FOOTPRINT: dict[str, dict[str, Any]] = {
    "anton-l/xtreme_s_xlsr_300m_minds14": {
        "params_m": 315.7,
        "lesson_clips": 300,
        "batch_size": 8,
        "fp32": {"batch_size": 8, "peak_gb": 2.84, "need_gb": 2.58, "s_per_clip": 2.71, "load_s": 2.4,
                 "s_per_clip_avx2": 2.56},
        "bf16": {"batch_size": 8, "peak_gb": 2.31, "need_gb": 1.4, "s_per_clip": 0.9, "load_s": 2.3,
                 "s_per_clip_avx2": 17.3},
        "bf16_b1": {"batch_size": 1, "peak_gb": 2.31, "need_gb": 0.92, "s_per_clip": 0.63, "load_s": 2.3,
                    "s_per_clip_avx2": 12.8},
    },
    "MIT/ast-finetuned-speech-commands-v2": {
        "params_m": 85.4,
        "lesson_clips": 500,
        "batch_size": 16,
        "fp32": {"batch_size": 16, "peak_gb": 0.94, "need_gb": 0.68, "s_per_clip": 0.28, "load_s": 1.8},
    },
    "sanchit-gandhi/whisper-medium-fleurs-lang-id": {
        "params_m": 307.5,
        "lesson_clips": 500,
        "batch_size": 8,
        "fp32": {"batch_size": 8, "peak_gb": 2.32, "need_gb": 2.07, "s_per_clip": 13.6, "load_s": 1.9,
                 "s_per_clip_avx2": 13.0},
        "bf16": {"batch_size": 8, "peak_gb": 2.26, "need_gb": 1.41, "s_per_clip": 5.37, "load_s": 2.0,
                 "s_per_clip_avx2": 40.6},
        "bf16_b1": {"batch_size": 1, "peak_gb": 2.26, "need_gb": 0.92, "s_per_clip": 4.85, "load_s": 2.3,
                    "s_per_clip_avx2": 39.2},
    },
    "laion/clap-htsat-unfused": {
        "params_m": 153.5,
        "lesson_clips": 400,
        "batch_size": 16,
        "fp32": {"batch_size": 16, "peak_gb": 1.22, "need_gb": 0.88, "s_per_clip": 0.21, "load_s": 1.8},
    },
    "ntu-spml/distilhubert": {
        "params_m": 23.7,
        "lesson_clips": 100,
        "batch_size": 8,
        "fp32": {"batch_size": 8, "peak_gb": 4.57, "need_gb": 4.31, "s_per_clip": 2.47, "load_s": 1.8},
        "train_10s": {"s_per_step": 18.1, "peak_gb": 4.65, "need_gb": 4.39},
        "train_30s": {"s_per_step": 81.5, "peak_gb": 16.06, "need_gb": 15.81},
    },
}


class MachineTooSmall(RuntimeError):
    """The checkpoint would not fit in this machine's memory, even in bfloat16: raised before loading."""

    def __init__(self, model_id: str, need_gb: float, available_gb: float, what: str = "run"):
        self.model_id, self.need_gb, self.available_gb = model_id, need_gb, available_gb
        binder = f" (mybinder.org gives about {BINDER_GB:.0f} GB in all)" if available_gb <= BINDER_GB else ""
        super().__init__(
            f"{model_id} needs about {need_gb:.1f} GB of memory to {what} here, and this machine has "
            f"{available_gb:.1f} GB available{binder}. "
            "Not loading it: the kernel would be killed halfway. What to do: run the lesson on a bigger "
            "machine (Google Colab's free tier has 12 GB and a GPU: the badge at the top of the notebook), "
            "or run it here on the course's small offline stand-ins: restart with COURSE_MODE=offline."
        )


@dataclass(frozen=True)
class Plan:
    """What to load and how much to run: ``dtype`` for ``from_pretrained``/``pipeline``, ``batch_size``,
    ``n_clips`` to classify (steps, for ``plan_training``), and a one-line ``reason`` to print."""

    model_id: str
    device: str
    dtype: Any  # torch.float32 or torch.bfloat16
    n_clips: int
    n_clips_wanted: int
    seconds: float | None  # estimated model time for n_clips (None: not measured for this device)
    need_gb: float | None
    available_gb: float | None
    reason: str
    batch_size: int | None = None  # for the pipeline call or the embedding loop (the lesson's, or 1)

    @property
    def n_steps(self) -> int:
        """For ``plan_training``: the training steps that fit (the same number as ``n_clips``)."""
        return self.n_clips

    @property
    def load_kwargs(self) -> dict:
        """``{"dtype": ...}``, for ``pipeline(...)`` or ``from_pretrained(...)``."""
        return {"dtype": self.dtype}


# --- memory ------------------------------------------------------------------------------------------


def _system_available_gb(meminfo: str | os.PathLike = "/proc/meminfo") -> float | None:
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / GB
    except (OSError, ValueError, IndexError):
        pass
    try:  # macOS, Windows
        import psutil

        return psutil.virtual_memory().available / GB
    except ImportError:
        return None


def available_memory_gb(cgroup_root: str | os.PathLike = "/sys/fs/cgroup") -> float:
    """GB of memory this process can still use: the machine's available memory (``MemAvailable``),
    or less where a cgroup limit (Binder's, a container's) leaves less. The kernel running this is
    already counted as used, so compare with what a model *adds* (``need_gb``)."""
    values = [v for v in (_system_available_gb(), cgroup_memory_left_gb(cgroup_root)) if v is not None]
    return min(values) if values else float("inf")


# --- plans -------------------------------------------------------------------------------------------


def footprint(model_id: str) -> dict[str, Any]:
    """The measured figures of a course checkpoint (``MODEL_FOOTPRINT``)."""
    try:
        return MODEL_FOOTPRINT[model_id]
    except KeyError:
        known = ", ".join(MODEL_FOOTPRINT)
        raise KeyError(f"no measured footprint for {model_id!r}; measured: {known}") from None


def has_bf16_instructions(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU computes in bfloat16 natively (x86: ``avx512_bf16`` or ``amx_bf16``; Arm:
    ``bf16``), from ``/proc/cpuinfo``; None where that file cannot be read (macOS, Windows)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return bool({"avx512_bf16", "amx_bf16", "bf16"} & set(value.split()))
    return None


def _device(device) -> str:
    if device is None:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def plan_inference(model_id: str, n_clips_wanted: int, *, device=None, budget_s: float = 600,
                   available_gb: float | None = None, offline: bool = False, bf16_fast: bool | None = None,
                   margin: float = MARGIN) -> Plan:
    """How to run ``model_id`` on ``n_clips_wanted`` clips here: dtype, batch size, clips that fit, why.

    - ``device``: where the model will run ("cpu", "cuda", a ``torch.device``; None: CUDA if present).
    - ``budget_s``: the model time a lesson may take on a CPU (default 10 minutes).
    - ``available_gb``: memory left for the model (default: ``available_memory_gb()``).
    - ``offline``: the lesson runs on the local stand-ins, which are small: float32, every clip.
    - ``bf16_fast``: whether the CPU has bfloat16 instructions (default: ``has_bf16_instructions()``);
      without them the time per clip is the one measured with AVX2 kernels (bfloat16 3-7x slower).

    On a CPU, the first of these whose measured need (times ``margin``) fits the memory available:
    float32 at the lesson's batch size; bfloat16 at the lesson's batch size; bfloat16 one clip at a
    time, where measured. (bfloat16 is 2.5-3x faster than float32 on a CPU with bfloat16
    instructions, and 3-7x slower on one without; the clip count follows.) If none fits: ``MachineTooSmall``, before
    anything is loaded. Then as many clips as fit ``budget_s`` at the measured seconds per clip (at
    least one). On a GPU: float32, the lesson's batch size and every clip (a GPU classifies these in
    seconds, and its memory holds any of them).
    """
    import torch

    device = _device(device)
    if offline:
        return Plan(model_id, device, torch.float32, n_clips_wanted, n_clips_wanted, None, None, available_gb,
                    f"offline: {model_id} is a small local stand-in, so all {n_clips_wanted} clips in float32",
                    MODEL_FOOTPRINT.get(model_id, {}).get("batch_size"))
    fp = footprint(model_id)
    if not device.startswith("cpu"):
        return Plan(model_id, device, torch.float32, n_clips_wanted, n_clips_wanted, None, fp["fp32"]["need_gb"],
                    available_gb, f"{device.split(':')[0].upper()}: float32, all {n_clips_wanted} clips "
                                  f"({fp['params_m']:.0f} M parameters)", fp["batch_size"])
    available = available_memory_gb() if available_gb is None else float(available_gb)
    if bf16_fast is None:
        bf16_fast = has_bf16_instructions() is not False  # unknown: assume a recent CPU
    options = [key for key in ("fp32", "bf16", "bf16_b1") if key in fp]
    fits = [key for key in options if fp[key]["need_gb"] * margin <= available]
    if not fits:
        least = min(fp[key]["need_gb"] for key in options) * margin
        raise MachineTooSmall(model_id, least, available, "classify clips with it")
    # With bfloat16 instructions the fastest way that fits (bfloat16, even one clip at a time, beats
    # float32 there); without them bfloat16 is several times slower, so only for memory.
    choice = min(fits, key=lambda key: fp[key]["s_per_clip"]) if bf16_fast else fits[0]
    figures = fp[choice]
    dtype = torch.float32 if choice == "fp32" else torch.bfloat16
    slow = not bf16_fast and "s_per_clip_avx2" in figures
    per_clip = figures["s_per_clip_avx2"] if slow else figures["s_per_clip"]
    load = figures.get("load_s", 0.0)
    fit = math.floor(max(0.0, budget_s - load) / per_clip) if per_clip > 0 else n_clips_wanted
    n = max(1, min(n_clips_wanted, fit))
    seconds = load + n * per_clip
    name = "float32" if choice == "fp32" else "bfloat16"
    speed = f"{per_clip:.1f} s per clip" if per_clip >= 0.1 else f"{per_clip * 1000:.0f} ms per clip"
    if n == n_clips_wanted:
        reason = (f"CPU, {name}: {speed}, so all {n_clips_wanted} clips fit {_minutes(budget_s)} "
                  f"(about {_minutes(seconds)})")
    else:
        reason = (f"CPU, {name}: {speed}, so {n} of {n_clips_wanted} clips fit {_minutes(budget_s)}; "
                  f"a GPU would classify all {n_clips_wanted}")
    if choice != "fp32" and fp["fp32"]["need_gb"] * margin <= available:
        reason += "; bfloat16 because this CPU has bfloat16 instructions (faster than float32 here)"
    elif choice != "fp32":
        reason += (f"; {name} because float32 would need {fp['fp32']['need_gb'] * margin:.1f} GB "
                   f"and {available:.1f} GB is available")
    if choice == "bf16_b1":
        batched = fp["bf16"]["need_gb"] * margin
        reason += f" (one clip at a time: batches of {fp['batch_size']} would need {batched:.1f} GB)"
    if slow and choice != "fp32":
        reason += "; this CPU has no bfloat16 instructions, so bfloat16 runs slower than float32 would"
    return Plan(model_id, device, dtype, n, n_clips_wanted, seconds, figures["need_gb"], available, reason,
                figures.get("batch_size", fp["batch_size"]))


def plan_training(model_id: str, n_steps_wanted: int, *, clip_seconds: float = 30, device=None,
                  budget_s: float | None = None, available_gb: float | None = None, offline: bool = False,
                  margin: float = MARGIN) -> Plan:
    """Lesson 5's fine-tuning (batch 8, AdamW, float32) here: whether a step fits in memory with songs cut
    at ``clip_seconds`` (the measured 10-s figures up to 10 s, the 30-s ones beyond), and how long
    ``n_steps_wanted`` steps take on a CPU. ``n_clips`` of the plan counts steps: all of them, or those
    that fit ``budget_s`` when given. Raises ``MachineTooSmall`` when a step would not fit."""
    import torch

    device = _device(device)
    if offline:
        return Plan(model_id, device, torch.float32, n_steps_wanted, n_steps_wanted, None, None, available_gb,
                    f"offline: {model_id} is a small local stand-in, so all {n_steps_wanted} steps",
                    MODEL_FOOTPRINT.get(model_id, {}).get("batch_size"))
    fp = footprint(model_id)
    key = "train_10s" if clip_seconds <= 10 else "train_30s"
    if key not in fp:
        raise KeyError(f"no training figures for {model_id!r}")
    step = fp[key]
    if not device.startswith("cpu"):
        return Plan(model_id, device, torch.float32, n_steps_wanted, n_steps_wanted, None, step["need_gb"],
                    available_gb, f"{device.split(':')[0].upper()}: all {n_steps_wanted} steps "
                                  f"(a CPU needs {step['need_gb']:.0f} GB and {step['s_per_step']:.0f} s per step)",
                    fp["batch_size"])
    available = available_memory_gb() if available_gb is None else float(available_gb)
    need = step["need_gb"] * margin
    if need > available:
        raise MachineTooSmall(model_id, need, available, f"fine-tune on batches of 8 songs of {key[6:-1]} s")
    n = n_steps_wanted
    if budget_s is not None:
        n = max(1, min(n_steps_wanted, math.floor(budget_s / step["s_per_step"])))
    seconds = n * step["s_per_step"]
    reason = (f"CPU: {step['s_per_step']:.0f} s per training step of 8 songs of {key[6:-1]} s, so {n} of "
              f"{n_steps_wanted} steps take about {_minutes(seconds)} (needs {need:.1f} GB, {available:.1f} available)")
    return Plan(model_id, device, torch.float32, n, n_steps_wanted, seconds, step["need_gb"], available, reason,
                fp["batch_size"])
