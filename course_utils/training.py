"""Training presets: ``TrainingArguments`` that fit the hardware, feature caching, and a ``fit`` helper.

``python -m course_utils.train`` and the stand-in builders train through this module; lesson 5
writes its ``TrainingArguments`` out in its cells and takes ``mixed_precision`` and
``configure_threads`` from here (a test keeps the two equal).

- ``training_args(...)``: current argument names (``eval_strategy``; warm-up as a fraction in
  ``warmup_steps``), mixed precision only on CUDA (``fp16`` on a CPU silently runs a slow autocast),
  seeded, no reporting to online services, no checkpoints unless asked for.
- ``configure_threads()``: how many CPU threads torch may use (see the policy below).
- ``cache_features(...)`` / ``ArrayDataset``: run a feature extractor once over a split and keep
  the arrays, instead of paying the (slow, ~100 clips/s) extractor again in every epoch.
- ``fit(...)``: ``Trainer`` with these presets; returns the trainer and a summary with timings.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from .audio import AudioDecodeError, load_audio
from .metrics import compute_metrics as accuracy_metrics

__all__ = [
    "ArrayDataset",
    "accelerator",
    "cache_features",
    "configure_threads",
    "data_workers",
    "decode_split",
    "fit",
    "guard_loss_scaling",
    "mixed_precision",
    "predict",
    "seed_everything",
    "training_args",
    "usable_cpus",
]


# --- hardware --------------------------------------------------------------------------------------


def usable_cpus(cgroup_root: str | os.PathLike = "/sys/fs/cgroup",
                proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> int:
    """The CPUs this process may use: its CPU affinity, or fewer where a cgroup CPU quota (a
    container's, Binder's: ``cgroups.cgroup_cpu_limit``) allows less. ``os.cpu_count()`` counts the
    host's, which can be many more."""
    from .cgroups import cgroup_cpu_limit

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))  # a quota of 1.5 CPUs: 2 threads can use it
    return max(1, cpus)


def configure_threads(n: int | None = None) -> int:
    """Set and return torch's intra-op thread count.

    Policy: ``n`` if given, else ``$COURSE_THREADS``, else 1 thread on machines with at most
    2 usable cores and half of them elsewhere. numpy's BLAS gets the same limit. On a 2-core machine with one busy neighbour, torch's
    default of 2 threads made a training step ~20x slower (threads spin waiting for each other);
    one thread costs only ~20 % on an idle machine.
    """
    if n is None:
        env = os.environ.get("COURSE_THREADS", "").strip()
        cores = usable_cpus()
        n = int(env) if env else (1 if cores <= 2 else cores // 2)
    n = max(1, int(n))
    torch.set_num_threads(n)
    # numpy's OpenBLAS spins its own threads the same way: a (100 x 257) @ (257 x 64) product took
    # 40 ms with 2 threads beside a busy neighbour and 0.07 ms with 1 (measured).
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n, user_api="blas")
    return n


def data_workers(n: int | str = "auto") -> int:
    """How many DataLoader worker processes decode audio while the model trains: ``n``, or for
    ``"auto"`` one per usable core that training leaves free (at most 4); 0 where fork is missing.

    With workers, the next batches are decoded while the model trains on this one: lesson 5's
    offline run on a 2-core CPU took about 62 s with one worker instead of 76 s (measured). The lesson
    starts them with "fork": copies of the kernel, which know a ``preprocess_function`` defined in a
    notebook cell; "spawn" would have to import it, and cannot. Windows has no fork: no workers.
    """
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if n != "auto":
        return max(0, int(n))
    busy = 1 if torch.cuda.is_available() else torch.get_num_threads()  # a GPU needs one core to feed it
    return max(0, min(4, usable_cpus() - busy))


def accelerator() -> str:
    """``"cuda"``, ``"mps"`` or ``"cpu"``: where ``Trainer`` will run."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def mixed_precision() -> dict[str, bool]:
    """``{"bf16": True}`` / ``{"fp16": True}`` on CUDA, ``{}`` elsewhere (never fp16 on a CPU)."""
    if not torch.cuda.is_available():
        return {}
    # including_emulation=False: a T4 "supports" bf16 only by emulation, slower than its native fp16.
    if torch.cuda.is_bf16_supported(including_emulation=False):
        return {"bf16": True}
    return {"fp16": True}


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; call it before building a model so its initial weights repeat."""
    from transformers import set_seed

    set_seed(seed)


def guard_loss_scaling(model) -> None:
    """Keep ``Trainer``'s loss right with several processes or gradient accumulation.

    The audio classifiers take ``**kwargs`` in ``forward`` but average their loss themselves,
    ignoring ``num_items_in_batch``; ``Trainer`` then multiplies the loss by the number of
    processes and skips the division by ``grad_accum`` (measured: 2x the loss on 2 processes,
    4x with grad_accum=4; huggingface/transformers#47688). Telling it the model does not take
    loss kwargs restores the usual averaging.
    """
    import inspect

    if getattr(model, "accepts_loss_kwargs", None) is not None:
        return  # the model says what it does
    try:
        honours = "num_items_in_batch" in inspect.getsource(type(model).forward)
    except (OSError, TypeError):
        honours = False
    if not honours:
        model.accepts_loss_kwargs = False


# --- arguments -------------------------------------------------------------------------------------


def training_args(
    output_dir: str | Path,
    *,
    num_epochs: float = 3,
    lr: float = 5e-5,
    batch_size: int = 8,
    eval_batch_size: int | None = None,
    seed: int = 0,
    warmup: float = 0.1,
    weight_decay: float = 0.0,
    grad_accum: int = 1,
    evaluate: bool = True,
    save: bool = False,
    best_metric: str = "accuracy",
    logging_steps: int | float = 0.1,
    quiet: bool = False,
    **overrides: Any,
):
    """``TrainingArguments`` with the course's presets.

    ``evaluate``: evaluate at the end of every epoch. ``save``: keep a checkpoint per epoch and
    reload the best one (by ``best_metric``) at the end; off by default, checkpoints of even a
    small model fill a disk quickly. ``warmup``: fraction of the steps (or a step count >= 1).
    ``overrides`` go straight to ``TrainingArguments`` and win over the presets.
    """
    from transformers import TrainingArguments

    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=num_epochs,
        learning_rate=lr,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=eval_batch_size or batch_size,
        gradient_accumulation_steps=grad_accum,
        warmup_steps=warmup,
        weight_decay=weight_decay,
        lr_scheduler_type="linear",
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="epoch" if save else "no",
        load_best_model_at_end=bool(save and evaluate),
        metric_for_best_model=best_metric if save and evaluate else None,
        save_total_limit=1 if save else None,
        logging_strategy="steps",
        logging_steps=logging_steps,
        report_to="none",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,  # fit() trains on cached features, cheap to read: a worker costs more than it saves
        disable_tqdm=quiet,
        use_cpu=accelerator() == "cpu",
        **mixed_precision(),
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


# --- data ------------------------------------------------------------------------------------------


class ArrayDataset(torch.utils.data.Dataset):
    """Rows of equal-length numpy arrays, e.g. cached features: ``{"input_values": ..., "labels": ...}``."""

    def __init__(self, columns: dict[str, np.ndarray]):
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"columns differ in length: {lengths}")
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {name: torch.as_tensor(values[i]) for name, values in self.columns.items()}

    def rows(self, indices: Sequence[int], **replaced: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Rows ``indices`` as ``__getitem__`` gives them, read with one index per column; a
        column in ``replaced`` comes from that ``(len(indices), ...)`` tensor instead (for a
        subclass's ``__getitems__`` that transforms a whole batch at once)."""
        cols = {name: replaced[name] if name in replaced else torch.as_tensor(values[indices])
                for name, values in self.columns.items()}
        return [{name: values[j] for name, values in cols.items()} for j in range(len(indices))]

    def subset(self, indices: Sequence[int]) -> "ArrayDataset":
        idx = np.asarray(indices, dtype=np.int64)
        return ArrayDataset({name: values[idx] for name, values in self.columns.items()})


def decode_split(dataset, **options) -> tuple[list[np.ndarray], list[int]]:
    """Every clip of a split at once: ``(arrays, kept_indices)``; ``options`` and the handling of
    clips that cannot be decoded are those of ``iter_decoded``."""
    pairs = list(iter_decoded(dataset, **options))
    return [array for _, array in pairs], [i for i, _ in pairs]


def iter_decoded(
    dataset,
    *,
    column: str = "audio",
    sampling_rate: int = 16000,
    max_seconds: float | None = None,
    max_fraction: float = 0.1,
    log: Callable[[str], None] = print,
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode every clip of a ``datasets`` split to mono float32 at ``sampling_rate``, one clip at a
    time: yields ``(row index, array)``, so that a caller can reduce each clip (crop it, turn it
    into features) without holding the whole split in memory.

    A clip that cannot be decoded is logged, counted and skipped (``preprocessing.SkipLog``, as in
    fine-tuning); more than ``max_fraction`` of them stops the run with ``TooManyBadClips``.
    """
    from datasets import Audio

    from .preprocessing import SkipLog

    raw = dataset.cast_column(column, Audio(decode=False))
    skips = SkipLog(max_fraction=max_fraction)
    for i, item in enumerate(raw[column]):
        try:
            array = load_audio(item, sampling_rate, max_seconds=max_seconds)
        except AudioDecodeError as error:  # SkipLog logs it once, with the source's name
            skips.fail(f"row {i}", error)
            continue
        skips.ok()
        yield i, array
    skips.finish(len(raw))
    if skips.failed:
        log(f"[decode] skipped {skips.failed} of {len(raw)} clips that could not be decoded")


def cache_features(
    arrays: Iterable[np.ndarray],
    featurize: Callable[[list[np.ndarray]], dict[str, np.ndarray]],
    *,
    batch_size: int = 64,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, np.ndarray], list[int]]:
    """Run ``featurize`` (a feature extractor on a list of clips) once over all clips.

    ``arrays`` may be any iterable, a generator included: only one batch of clips is held at a
    time. Returns ``(columns, kept_indices)`` with one row per clip that worked (indices count
    clips in iteration order). A batch that fails is retried clip by clip so that one bad clip is
    logged and skipped without losing the others.
    """
    parts: dict[str, list[np.ndarray]] = {}
    kept: list[int] = []

    def add(batch_out: dict[str, np.ndarray], indices: list[int]) -> None:
        for name, values in batch_out.items():
            parts.setdefault(name, []).append(np.asarray(values))
        kept.extend(indices)

    def run(batch: list[np.ndarray], lo: int) -> None:
        idx = list(range(lo, lo + len(batch)))
        try:
            add(featurize(batch), idx)
        except Exception:  # find the culprit(s), keep the rest
            for i, clip in zip(idx, batch):
                try:
                    add(featurize([clip]), [i])
                except Exception as error:
                    log(f"[skip] clip {i}: features failed: {type(error).__name__}: {error}")

    start = time.perf_counter()
    batch: list[np.ndarray] = []
    seen = 0
    for clip in arrays:
        batch.append(clip)
        seen += 1
        if len(batch) == batch_size:
            run(batch, seen - len(batch))
            batch = []
    if batch:
        run(batch, seen - len(batch))
    if not kept:
        raise ValueError("no clip could be turned into features")
    seconds = time.perf_counter() - start
    log(f"[features] {len(kept)} clips in {seconds:.1f} s ({len(kept) / max(seconds, 1e-9):.0f} clips/s)")
    return {name: np.concatenate(values) for name, values in parts.items()}, kept


# --- training --------------------------------------------------------------------------------------


def fit(
    model,
    args,
    train_dataset,
    eval_dataset=None,
    *,
    compute_metrics: Callable | None = accuracy_metrics,
    processing_class=None,
    data_collator=None,
    compute_loss_func: Callable | None = None,
) -> tuple[Any, dict]:
    """Train with ``Trainer`` and evaluate; returns ``(trainer, summary)``.

    ``summary`` holds ``train_seconds`` (wall), ``train_cpu_seconds`` (this process's CPU time,
    the honest budget on a shared machine) and the final ``eval_*`` metrics.
    """
    from transformers import Trainer

    guard_loss_scaling(model)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processing_class,
        data_collator=data_collator,
        compute_metrics=compute_metrics if eval_dataset is not None else None,
        compute_loss_func=compute_loss_func,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    summary: dict[str, Any] = {
        "train_seconds": round(time.perf_counter() - wall, 1),
        "train_cpu_seconds": round(time.process_time() - cpu, 1),
        "steps": trainer.state.global_step,
    }
    if eval_dataset is not None:
        summary.update({k: v for k, v in trainer.evaluate().items() if k.startswith("eval_")})
    return trainer, summary


@torch.no_grad()
def predict(model, dataset: ArrayDataset, *, batch_size: int = 64, input_names: Iterable[str] | None = None) -> np.ndarray:
    """Logits of ``model`` over an ``ArrayDataset`` (columns other than labels are model inputs)."""
    model.eval()
    names = list(input_names or [n for n in dataset.columns if n not in ("labels", "label")])
    out = []
    for lo in range(0, len(dataset), batch_size):
        batch = {n: torch.as_tensor(dataset.columns[n][lo : lo + batch_size]) for n in names}
        out.append(model(**batch)["logits"].float().numpy())
    return np.concatenate(out)
