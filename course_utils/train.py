"""Fine-tune an audio classifier on GTZAN from a config file: notebook 05 as a script.

    python -m course_utils.train --config configs/gtzan_finetune.yaml [--output-dir DIR] [--resume] [key=value ...]

The same command runs on one process or many, unchanged::

    torchrun --nproc_per_node 2 -m course_utils.train --config configs/gtzan_finetune.yaml
    accelerate launch -m course_utils.train --config configs/gtzan_finetune.yaml

``Trainer`` wraps the model in DDP (NCCL on GPUs, gloo on CPUs); every process seeds the same
way, and only the first one writes files. ``batch_size`` is per process, so the global batch is
``batch_size x processes``. The notebook reads the same file with ``load_config`` and spells out
the same ``from_pretrained`` and ``TrainingArguments`` calls in its cells;
tests/test_lesson05_same_as_script.py checks that both build the same model and arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "Data",
    "TrainConfig",
    "build_model",
    "dataset_source",
    "load_config",
    "main",
    "make_trainer",
    "model_path",
    "prepare_data",
    "run",
    "weights_hash",
]

# In a checkout the file sits at the repository root; an installed package (pip install git+...)
# has no configs/ folder, and then the defaults below, which a test keeps equal to the file, apply.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "gtzan_finetune.yaml"
PROFILES = {
    "cpu": {"num_epochs": 3, "max_seconds": 10.0},
    "standin": {"lr": 1.0e-3, "num_epochs": 4, "max_seconds": 10.0},
    "tiny": {"num_epochs": 6, "logging_steps": 1},
}


@dataclass
class TrainConfig:
    """One fine-tuning run; the defaults are the published GTZAN recipe."""

    dataset: str = "marsyas/gtzan"  # a Hub id (offline: served by the local Hub) or a folder
    data_dir: str | None = "all"  # the configuration's folder on the parquet branch
    revision: str | None = "refs/convert/parquet"  # GTZAN's main holds a loading script, refused today
    split: str = "train"
    audio_column: str = "audio"
    label_column: str = "genre"
    id_column: str | None = "file"
    test_size: float = 0.1
    split_seed: int = 42
    max_seconds: float | None = 30.0
    cache_dir: str | None = None  # datasets' Arrow copy of the data; None: the datasets cache of this world
    model: str = "ntu-spml/distilhubert"
    init: str = "pretrained"  # or "random": the same architecture and run without the pre-trained weights
    model_config: dict = field(default_factory=dict)
    output_dir: str = "distilhubert-finetuned-gtzan"
    num_epochs: float = 10
    lr: float = 5e-5
    batch_size: int = 8
    eval_batch_size: int | None = None
    grad_accum: int = 1
    warmup: float = 0.1
    weight_decay: float = 0.0
    logging_steps: float = 5
    seed: int = 42
    save: bool = True
    save_total_limit: int | None = 1
    num_workers: int | str = "auto"  # DataLoader workers: training.data_workers
    max_bad_fraction: float = 0.1
    threads: int | None = None
    trainer_args: dict = field(default_factory=dict)  # passed to TrainingArguments, win over the presets
    profiles: dict = field(default_factory=lambda: {k: dict(v) for k, v in PROFILES.items()})
    applied_profiles: list = field(default_factory=list)  # filled by load_config, for the record


# --- configuration -------------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    import yaml

    value = yaml.safe_load(text)
    if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _coerce(raw: dict, path: Path) -> None:
    """Numbers written as strings ("1e-3" in YAML) become numbers where the field wants one."""
    for f in dataclasses.fields(TrainConfig):
        value = raw.get(f.name)
        if isinstance(value, str) and ("float" in str(f.type) or "int" in str(f.type)) and "str" not in str(f.type):
            try:
                raw[f.name] = int(value) if "float" not in str(f.type) else float(value)
            except ValueError:
                raise ValueError(f"{path}: {f.name}={value!r} is not a number") from None


def _set(raw: dict, key: str, value: Any) -> None:
    """``a.b=1`` sets ``raw["a"]["b"]``; unknown top-level keys are rejected by ``load_config``."""
    *parents, last = key.split(".")
    node = raw
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


def auto_profiles() -> list[str]:
    """The profiles that match this machine and world, in the order they apply: ``cpu`` without
    CUDA, ``standin`` offline (the model is a small stand-in, not the real checkpoint), ``tiny``
    for the tiny stand-ins."""
    import torch

    from .hub import course_mode, course_size

    names = []
    if not torch.cuda.is_available():
        names.append("cpu")
    if course_mode() == "offline":
        names.append("standin")
    if course_size() == "tiny":
        names.append("tiny")
    return names


def load_config(
    path: str | os.PathLike | None = None,
    overrides: dict | list[str] | None = None,
    profiles: list[str] | None = None,
) -> TrainConfig:
    """Read a YAML (or JSON) config, apply its matching ``profiles`` then ``overrides``.

    ``profiles=None`` applies those of ``auto_profiles()`` that the file defines; pass ``[]`` for the
    bare recipe. ``overrides`` is a dict or a list of ``"key=value"`` strings (values parsed as YAML,
    dotted keys reach into ``model_config`` / ``trainer_args``). An unknown key raises ``ValueError`` naming it.
    """
    import yaml

    if path is None and not DEFAULT_CONFIG.exists():
        path, raw = Path("<built-in defaults>"), {"profiles": {k: dict(v) for k, v in PROFILES.items()}}
    else:
        path = Path(path) if path is not None else DEFAULT_CONFIG
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: cannot read the config: {error}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    available = raw.get("profiles") or {}
    chosen = [p for p in (auto_profiles() if profiles is None else profiles) if p in available or profiles is not None]
    for name in chosen:
        if name not in available:
            raise ValueError(f"{path}: no profile {name!r} (defined: {', '.join(available) or 'none'})")
        for key, value in (available[name] or {}).items():
            _set(raw, key, value)
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            _set(raw, key, value)
    else:
        for item in overrides or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"override {item!r}: expected key=value")
            _set(raw, key.strip(), _parse_value(value))
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    _coerce(raw, path)
    raw["applied_profiles"] = chosen
    return TrainConfig(**raw)


# --- data and model ------------------------------------------------------------------------------


@dataclass
class Data:
    """The two splits (audio left undecoded: decoded on the fly), the preprocessor and the labels."""

    train: Any
    eval: Any
    preprocessor: Any
    feature_extractor: Any
    id2label: dict[int, str]
    label2id: dict[str, int]
    source: str
    standin: bool


def model_path(cfg: TrainConfig) -> str:
    """``cfg.model``: a folder as it is, else the Hub id (offline, the local Hub serves its stand-in)."""
    if Path(cfg.model).expanduser().is_dir():
        return str(Path(cfg.model).expanduser())
    return cfg.model


def dataset_source(cfg: TrainConfig) -> dict:
    """The ``load_dataset`` keyword arguments for ``cfg``: the Hub id with its revision and data_dir
    (the notebook's call), or a folder laid out like the repository; ``cfg.cache_dir`` replaces
    the datasets cache folder."""
    folder = Path(cfg.dataset).expanduser()
    kwargs = {"path": cfg.dataset, "data_dir": cfg.data_dir}
    if folder.is_dir():
        from course_offline.store import dataset_cache_dir  # a stand-in's folder: keyed on its content

        kwargs["cache_dir"] = str(dataset_cache_dir(folder))
    elif cfg.revision:
        kwargs["revision"] = cfg.revision
    if cfg.cache_dir:  # a local folder's copy keeps its content key, so tiny and course never mix
        sub = Path(kwargs["cache_dir"]).name if "cache_dir" in kwargs else ""
        kwargs["cache_dir"] = str(Path(cfg.cache_dir).expanduser() / sub)
    return {k: v for k, v in kwargs.items() if v is not None}


def prepare_data(cfg: TrainConfig, *, log: Callable[[str], None] = print) -> Data:
    """Load the split, split it 90/10, drop clips that cannot be decoded, set up on-the-fly preprocessing.

    Nothing is materialised: each batch is decoded, resampled (soxr) and turned into features by
    ``AudioPreprocessor`` when the DataLoader asks for it.
    """
    from datasets import load_dataset
    from transformers import AutoFeatureExtractor

    from .preprocessing import AudioPreprocessor, filter_decodable, undecoded

    src = dataset_source(cfg)
    ds = load_dataset(**src, split=cfg.split)
    splits = ds.train_test_split(test_size=cfg.test_size, seed=cfg.split_seed, shuffle=True)  # as the notebook
    if cfg.id_column:
        # A header check (first second of each clip) is cheap and keeps the batches of all
        # processes the same size; a clip broken further in is still skipped by the preprocessor.
        good = filter_decodable(ds, cfg.audio_column, cfg.id_column, cfg.max_bad_fraction, max_seconds=1.0)
        if len(good) < len(ds):
            keep = set(good[cfg.id_column])
            splits = {name: split.select([i for i, v in enumerate(split[cfg.id_column]) if v in keep])
                      for name, split in splits.items()}
    names = ds.features[cfg.label_column].names
    id2label = {i: n for i, n in enumerate(names)}
    label2id = {n: i for i, n in enumerate(names)}
    extractor = AutoFeatureExtractor.from_pretrained(model_path(cfg), do_normalize=True, return_attention_mask=True)
    prep = AudioPreprocessor(
        extractor,
        audio_column=cfg.audio_column,
        label_column=cfg.label_column,
        id_column=cfg.id_column,
        max_seconds=cfg.max_seconds,
        max_fraction=cfg.max_bad_fraction,
        extractor_kwargs={"max_length": int(extractor.sampling_rate * cfg.max_seconds), "truncation": True}
        if cfg.max_seconds else None,
    )
    keep = [c for c in (cfg.audio_column, cfg.label_column, cfg.id_column) if c]
    train, test = (undecoded(splits[s].select_columns(keep), cfg.audio_column) for s in ("train", "test"))
    log(f"[data] {src['path']}: {len(train)} train / {len(test)} eval clips, {len(names)} labels, "
        f"max {cfg.max_seconds} s at {extractor.sampling_rate} Hz, decoded on the fly")
    from .hub import course_mode

    standin = Path(cfg.dataset).expanduser().is_dir() or course_mode() == "offline"
    return Data(train, test, prep, extractor, id2label, label2id, src["path"], standin)


def build_model(cfg: TrainConfig, data: Data):
    """The classifier: the base checkpoint with a fresh, seeded classification head."""
    from transformers import AutoModelForAudioClassification

    from .training import seed_everything

    seed_everything(cfg.seed)  # same head on every process (DDP also broadcasts rank 0's weights)
    labels = dict(num_labels=len(data.id2label), id2label=data.id2label, label2id=data.label2id)
    if cfg.init == "random":  # what transfer learning is measured against
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_path(cfg), **labels, **cfg.model_config)
        return AutoModelForAudioClassification.from_config(config)
    if cfg.init != "pretrained":
        raise ValueError(f"init must be 'pretrained' or 'random', not {cfg.init!r}")
    return AutoModelForAudioClassification.from_pretrained(model_path(cfg), **labels, **cfg.model_config)


def weights_hash(model) -> str:
    """SHA-256 of a model's state dict (names, dtypes, shapes and bytes), in a stable order."""
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous().view(-1)
        h.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}".encode())
        if t.numel():
            h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def training_arguments(cfg: TrainConfig, output_dir: str | os.PathLike):
    """The course presets (``training.training_args``) filled from the config."""
    from .training import data_workers, training_args

    workers = data_workers(cfg.num_workers)
    # Not persistent workers: they would draw from the random generator at other moments, and a
    # resumed run would no longer repeat an uninterrupted one (tests/test_resume.py).
    extra: dict[str, Any] = dict(remove_unused_columns=False, dataloader_num_workers=workers,
                                 dataloader_multiprocessing_context="fork" if workers else None)
    if cfg.save:
        extra["save_total_limit"] = cfg.save_total_limit
    extra.update(cfg.trainer_args)
    return training_args(
        output_dir,
        num_epochs=cfg.num_epochs,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        eval_batch_size=cfg.eval_batch_size,
        seed=cfg.seed,
        warmup=cfg.warmup,
        weight_decay=cfg.weight_decay,
        grad_accum=cfg.grad_accum,
        evaluate=True,
        save=cfg.save,
        logging_steps=cfg.logging_steps,
        **extra,
    )


def make_trainer(cfg: TrainConfig, data: Data, model, args):
    """``Trainer`` with on-the-fly collation and accuracy; records the trained weights' hash."""
    from transformers import Trainer, TrainerCallback

    from .metrics import compute_metrics
    from .training import guard_loss_scaling

    class TrainedWeights(TrainerCallback):
        """Hash of the weights at the last step, before ``load_best_model_at_end`` swaps them."""

        sha256: str | None = None

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step >= state.max_steps and model is not None:
                TrainedWeights.sha256 = weights_hash(model)

    guard_loss_scaling(model)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=data.train,
        eval_dataset=data.eval,
        data_collator=data.preprocessor.collate,
        processing_class=data.feature_extractor,
        compute_metrics=compute_metrics,
        callbacks=[TrainedWeights()],
    )
    trainer.trained_weights = TrainedWeights
    return trainer


# --- the run -------------------------------------------------------------------------------------


def _gather(value: Any) -> list:
    """``value`` from every process, in rank order (just ``[value]`` without torch.distributed)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return [value]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def run(cfg: TrainConfig, *, output_dir: str | None = None, resume: bool = False) -> dict:
    """Train and evaluate; returns the final metrics (also written to ``<output_dir>/metrics.json``
    and the model to ``<output_dir>``, by the first process only)."""
    from transformers.trainer_utils import get_last_checkpoint

    from .training import configure_threads

    out = Path(output_dir or cfg.output_dir)
    threads = configure_threads(cfg.threads)
    args = training_arguments(cfg, out)  # sets up torch.distributed when launched by torchrun/accelerate
    main_process = args.process_index == 0
    log = print if main_process else (lambda *a, **k: None)
    log(f"[train] {args.world_size} process(es) on {args.device}, {threads} thread(s) each, "
        f"profiles {cfg.applied_profiles or 'none'}, per-process batch {cfg.batch_size}")

    checkpoint = None
    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    if resume:
        checkpoint = last
        log(f"[train] resuming from {last}" if last else f"[train] --resume: no checkpoint in {out}, starting afresh")
    elif last:
        log(f"[train] {out} holds {Path(last).name}; starting afresh (pass --resume to continue it)")

    with args.main_process_first(desc="dataset"):  # the first process fills the datasets cache
        data = prepare_data(cfg, log=log)
    model = build_model(cfg, data)
    trainer = make_trainer(cfg, data, model, args)
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.train(resume_from_checkpoint=checkpoint)
    train_seconds, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    evaluation = trainer.evaluate()

    hashes = _gather(trainer.trained_weights.sha256)
    cpus = _gather(round(train_cpu, 1))
    metrics = {k: v for k, v in evaluation.items() if k.startswith("eval_")}
    metrics.update(
        world_size=args.world_size,
        device=str(args.device),
        steps=trainer.state.global_step,
        train_seconds=round(train_seconds, 1),
        train_cpu_seconds_by_rank=cpus,
        weights_sha256_by_rank=hashes,
        final_weights_sha256=weights_hash(trainer.model),
        best_checkpoint=trainer.state.best_model_checkpoint,
        resumed_from=checkpoint,
        skipped_clips=data.preprocessor.skips.bad,
        train_clips=len(data.train),
        eval_clips=len(data.eval),
        dataset=data.source,
        standin=data.standin,
        model=model_path(cfg),
        config=dataclasses.asdict(cfg),
    )
    trainer.save_model(str(out))  # the first process only (Trainer checks)
    if main_process:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
        log(f"[train] eval accuracy {metrics.get('eval_accuracy', float('nan')):.3f}, "
            f"loss {metrics.get('eval_loss', float('nan')):.4f}, {metrics['steps']} steps in "
            f"{metrics['train_seconds']} s -> {out / 'metrics.json'}")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # Resolved by load_config, so that an installed package (no configs/ folder) uses the built-in defaults.
    parser.add_argument("--config", default=None,
                        help=f"YAML or JSON file (default: {DEFAULT_CONFIG} in a checkout, else the built-in defaults)")
    parser.add_argument("--output-dir", default=None, help="where checkpoints, the model and metrics.json go")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the output dir")
    parser.add_argument("--profile", action="append", default=None,
                        help="apply this profile of the config (repeatable; default: cpu/tiny as they match)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="settings that win over the file")
    ns = parser.parse_args(argv)
    from .hub import start_world

    start_world()  # before the Hugging Face libraries are imported: the Hub, or offline the local Hub
    try:
        cfg = load_config(ns.config, ns.overrides, ns.profile)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run(cfg, output_dir=ns.output_dir, resume=ns.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
