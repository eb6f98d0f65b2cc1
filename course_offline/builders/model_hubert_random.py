"""The baseline of notebook 05's lesson: its fine-tuning from *random* weights of the DistilHuBERT
stand-in's architecture, same data, same budget. Not a stand-in for any Hub checkpoint.

The DistilHuBERT stand-in's card compares its own fine-tuning against this figure (transfer
learning is the lesson). The run needs only the architecture, not the pre-trained weights, so
it is a build of its own that starts as soon as the GTZAN corpus exists, beside the pre-training
on the other core (the course-size model builds end 40-70 s sooner than with it run after, as
simulated from measured build times; benchmarks/RESULTS.md, session 8).

Writes ``config.json`` and ``preprocessor_config.json`` (the architecture it trained; no weights),
``baseline_results.json`` and a README.md that says what this is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from course_utils import training
from . import model_hubert

NAME = "distilhubert-random-init"  # its folder under models/ (the builder's name)
RESULTS = "baseline_results.json"


def missing_tools() -> list[str]:
    return []


def build(out_dir: Path, *, size: str, seed: int, log: Callable[[str], None] = print) -> dict:
    training.configure_threads()
    start = time.perf_counter()
    # The stand-in's config and feature extractor, so that `train` reads them as it reads the base's.
    model_hubert.base_config().save_pretrained(out_dir)
    model_hubert.feature_extractor().save_pretrained(out_dir)
    figures = model_hubert.gtzan_finetune(out_dir, "random", size, seed, log)
    figures["seconds"] = round(time.perf_counter() - start, 1)
    (out_dir / RESULTS).write_text(json.dumps(figures, indent=2))
    (out_dir / "README.md").write_text(
        "# Baseline: notebook 05's fine-tuning from random weights\n\n"
        f"**Not a checkpoint and not a stand-in.** The GTZAN stand-in ({size} size) fine-tuned with "
        "`python -m course_utils.train` (configs/gtzan_finetune.yaml, profiles "
        f"{figures['profiles']}: {figures['hyper-parameters']}, seed {seed}) from randomly initialised "
        "weights of the architecture in `config.json`: what the DistilHuBERT stand-in's card compares "
        "its own fine-tuning against.\n\n"
        f"| test top-1 ({figures['test clips']} clips) | training CPU seconds |\n|---|---|\n"
        f"| {figures['accuracy']:.3f} | {figures['cpu_seconds']:.0f} |\n"
    )
    return {"accuracy": figures["accuracy"], "train_cpu_seconds": figures["cpu_seconds"]}
