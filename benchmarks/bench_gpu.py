"""Notebook 05's fine-tuning at the real DistilHuBERT size on a GPU, against the published "about 1 hour on a free T4".

    python benchmarks/bench_gpu.py [--size course|tiny] [--data FOLDER] [--epochs 1] [--json FILE]
    python benchmarks/bench_gpu.py --allow-cpu --size tiny --max-steps 2 --batch-size 2   # a smoke run on a CPU

The real checkpoint cannot be downloaded offline, so this trains DistilHuBERT's architecture
(HuBERT-base's convolutional front end and two of its transformer layers: 23.5 M parameters) from
random weights. Speed and memory depend on the architecture and on the shape of the data, not on
the weights. Everything else is the notebook's code path (``course_utils.train``) with the
published settings: 30 s songs, batch 8, learning rate 5e-5, and bf16 (fp16 on a T4) from the
course's presets.

The published recipe trains 10 epochs; this times ``--epochs`` (default 1) and scales up. The
figures: steps/s, seconds per epoch, evaluation time, peak GPU memory, and the 10-epoch estimate
next to the published hour. Without CUDA it returns one row saying so (``make bench`` shows it);
``--allow-cpu`` runs it anyway, which the tests use to keep the script working.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

NAME = "GPU: GTZAN at DistilHuBERT size"
PUBLISHED_MINUTES = 60.0  # the published recipe: 10 epochs, "about 1 hour on a free T4"
PUBLISHED_EPOCHS = 10
# DistilHuBERT (Chang et al., 2022): HuBERT-base with two transformer layers. HubertConfig's
# defaults are HuBERT-base's (768 wide, 12 heads, 3072 feed-forward, seven 512-channel convs).
DISTILHUBERT = {"num_hidden_layers": 2}
# ntu-spml/distilhubert's preprocessor_config.json.
EXTRACTOR = {"feature_size": 1, "sampling_rate": 16000, "padding_value": 0.0, "do_normalize": False,
             "return_attention_mask": False}


def architecture_folder(folder: Path) -> str:
    """A model folder with DistilHuBERT's config and feature extractor, and no weights (``init: random``)."""
    from transformers import HubertConfig, Wav2Vec2FeatureExtractor

    HubertConfig(**DISTILHUBERT).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(**EXTRACTOR).save_pretrained(folder)
    return str(folder)


def dataset(size: str, data: str | None) -> tuple[str | None, str]:
    """The GTZAN to train on: ``data``, else the Hub's online, else the stand-in of ``size`` if built."""
    from course_offline.store import revision_dir
    from course_utils.hub import course_mode

    if data:
        return (data if Path(data).is_dir() else None), data
    if course_mode() == "hub":
        return "marsyas/gtzan", "marsyas/gtzan (the real GTZAN)"
    folder = revision_dir("marsyas/gtzan", size=size)  # the stand-in's parquet branch, read as a folder
    return (str(folder) if folder.is_dir() else None), f"gtzan stand-in, {size}"


def run(size: str = "course", data: str | None = None, *, epochs: float = 1, max_steps: int | None = None,
        batch_size: int = 8, num_workers: int | None = None, allow_cpu: bool = False) -> list[dict]:
    """Rows for the benchmark table; one row saying why when it cannot run (no GPU, no data)."""
    import torch

    if not torch.cuda.is_available() and not allow_cpu:
        note = "not run: no CUDA GPU here (python benchmarks/bench_gpu.py on one)"
        return [{"bench": NAME, "measure": "-", "note": note}]
    source, label = dataset(size, data)
    if source is None:
        return [{"bench": NAME, "measure": "-", "note": f"not run: {label} is not built "
                 f"(python -m course_offline build --only gtzan --size {size})"}]
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        return _run(source, label, Path(tmp), epochs, max_steps, batch_size, num_workers)


def _run(source, label, tmp: Path, epochs, max_steps, batch_size, num_workers) -> list[dict]:
    import torch
    from transformers import TrainerCallback

    from course_utils.train import build_model, load_config, make_trainer, prepare_data, training_arguments

    cuda = torch.cuda.is_available()
    if num_workers is None:  # decoding 30 s songs on the CPU must keep up with the GPU
        num_workers = min(8, max(0, (os.cpu_count() or 1) - 1)) if cuda else 0
    # Evaluation is timed once, after training, and counted once per epoch in the estimate.
    trainer_args = {"disable_tqdm": True, "dataloader_pin_memory": cuda, "eval_strategy": "no"}
    if max_steps:
        trainer_args["max_steps"] = max_steps
    cfg = load_config(profiles=[], overrides={  # the published recipe: no cpu/standin/tiny profile
        "dataset": source, "model": architecture_folder(tmp / "distilhubert"), "init": "random",
        "num_epochs": epochs, "batch_size": batch_size, "num_workers": num_workers, "save": False,
        "logging_steps": 50, "trainer_args": trainer_args,
    })
    data = prepare_data(cfg, log=lambda *a, **k: None)
    model = build_model(cfg, data)
    args = training_arguments(cfg, tmp / "run")
    trainer = make_trainer(cfg, data, model, args)

    class Clock(TrainerCallback):
        """Wall-clock marks: training start, the first step, and each epoch (steps and seconds)."""

        def __init__(self):
            self.marks: dict = {"epochs": []}

        def on_train_begin(self, *a, **k):
            self.marks["begin"] = time.perf_counter()

        def on_step_end(self, args, state, *a, **k):
            self.marks.setdefault("first_step", time.perf_counter())

        def on_epoch_begin(self, args, state, *a, **k):
            self.marks["epoch_start"], self.marks["epoch_step"] = time.perf_counter(), state.global_step

        def on_epoch_end(self, args, state, *a, **k):
            self.marks["epochs"].append((time.perf_counter() - self.marks["epoch_start"],
                                         state.global_step - self.marks["epoch_step"]))

    clock = Clock()
    trainer.add_callback(clock)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    start = time.perf_counter()
    evaluation = trainer.evaluate()
    eval_s = time.perf_counter() - start
    peak_gib = torch.cuda.max_memory_allocated() / 2**30 if cuda else None

    m = clock.marks
    seconds = sum(s for s, _ in m["epochs"])
    steps = sum(n for _, n in m["epochs"])
    steps_per_epoch = -(-len(data.train) // (batch_size * args.world_size * cfg.grad_accum))
    epoch_s = seconds / steps * steps_per_epoch  # a partial epoch (max_steps) scaled to a whole one
    total_min = PUBLISHED_EPOCHS * (epoch_s + eval_s) / 60
    precision = "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"
    device = torch.cuda.get_device_name(0) if cuda else "CPU (smoke run: --allow-cpu)"
    params = sum(p.numel() for p in model.hubert.parameters()) / 1e6

    def row(measure, course, baseline=None, ratio=None, target=None, note=""):
        return {"bench": NAME, "measure": measure, "baseline": baseline if baseline is not None else "",
                "course": course, "ratio": ratio, "target": target, "note": note}

    return [
        row("encoder parameters (M), from random weights", f"{params:.1f}",
            note=f"{device}, {precision}; {label}: {len(data.train)} train / {len(data.eval)} eval songs"),
        row(f"steps/s (batch {batch_size}, songs cut at {cfg.max_seconds:g} s)", f"{steps / seconds:.2f}",
            note=f"{steps} steps timed, {num_workers} DataLoader workers"),
        row("seconds to the first step", f"{m['first_step'] - m['begin']:.1f}"),
        row(f"seconds per epoch ({steps_per_epoch} steps)", f"{epoch_s:.1f}"),
        row("seconds per evaluation pass", f"{eval_s:.1f}", note=f"eval loss {evaluation['eval_loss']:.3f}"),
        row("peak GPU memory (GiB)", f"{peak_gib:.2f}" if peak_gib is not None else "n/a"),
        row(f"{PUBLISHED_EPOCHS} epochs + evaluations (min)", f"{total_min:.1f}", baseline=f"{PUBLISHED_MINUTES:.0f}",
            ratio=PUBLISHED_MINUTES / total_min, note="baseline: the published 'about 1 hour on a free T4'"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default=os.environ.get("COURSE_SIZE", "course"), choices=["tiny", "course"])
    parser.add_argument("--data", default=None, help="a GTZAN-schema dataset folder instead of the stand-in")
    parser.add_argument("--epochs", type=float, default=1, help="epochs to time (the estimate scales to 10)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke runs)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=None,
                        help="DataLoader workers (default: cores - 1, at most 8)")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA too (slow; for smoke tests)")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    ns = parser.parse_args()
    os.environ["COURSE_SIZE"] = ns.size
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_all import machine, print_table

    rows = run(ns.size, ns.data, epochs=ns.epochs, max_steps=ns.max_steps, batch_size=ns.batch_size,
               num_workers=ns.num_workers, allow_cpu=ns.allow_cpu)
    print(f"\nMachine: {machine()}\n")
    print_table(rows)
    if ns.json:
        Path(ns.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
