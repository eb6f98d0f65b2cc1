"""Interrupted training (issue 8): ``python -m course_utils.train`` is killed mid-epoch (SIGKILL, as
when a Colab session dies) after its first checkpoint; ``--resume`` continues from that checkpoint
and ends with the same final metric as an uninterrupted run with the same seed. Only the last
``save_total_limit`` checkpoints stay on disk.

Same world as tests/test_distributed.py: the tiny GTZAN stand-in (with its corrupt clip) and a
small randomly initialised HuBERT base saved to a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from course_utils.train import DEFAULT_CONFIG

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
EPOCHS, KEEP = 3, 2
RUN = [
    f"num_epochs={EPOCHS}", "batch_size=8", "lr=1e-3", "max_seconds=1", "logging_steps=1", "save=true",
    f"save_total_limit={KEEP}", "trainer_args.load_best_model_at_end=false", "trainer_args.disable_tqdm=true",
    "model_config.apply_spec_augment=false",
]  # fmt: skip
WAIT = 300  # seconds: the bound on each training process


def _env(data: Path, cache: Path) -> dict:
    env = dict(os.environ, COURSE_MODE="offline", COURSE_SIZE="tiny", COURSE_DATA=str(data), HF_DATASETS_CACHE=str(cache),
               COURSE_THREADS="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")  # fmt: skip
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    from course_offline.builders import run_builds

    data = Path(os.environ.get("COURSE_DATA") or REPO / ".course_data")
    saved = os.environ.get("COURSE_DATA")
    os.environ["COURSE_DATA"] = str(data)
    try:
        run_builds(["gtzan"], size="tiny", log=lambda s: None)
    finally:
        if saved is None:
            os.environ.pop("COURSE_DATA")
    base = tmp_path_factory.mktemp("hubert-base")
    torch.manual_seed(0)
    config = HubertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                          classifier_proj_size=32)  # fmt: skip
    HubertModel(config).save_pretrained(base)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, do_normalize=True).save_pretrained(base)
    return {"data": data, "base": base, "cache": tmp_path_factory.mktemp("hf-datasets")}


def _cmd(world, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "course_utils.train", "--config", str(DEFAULT_CONFIG), "--output-dir", str(out),
            *extra, f"model={world['base']}", *RUN]  # fmt: skip


def _train(world, out: Path, *extra: str) -> dict:
    proc = subprocess.run(_cmd(world, out, *extra), env=_env(world["data"], world["cache"]), cwd=REPO,
                          capture_output=True, text=True, timeout=WAIT)  # fmt: skip
    assert proc.returncode == 0, f"failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return json.loads((out / "metrics.json").read_text())


def _checkpoints(out: Path) -> list[str]:
    return sorted((p.name for p in out.glob("checkpoint-*")), key=lambda n: int(n.split("-")[1]))


def _kill_mid_second_epoch(world, out: Path) -> list[str]:
    """Start a run; SIGKILL it at its first logged step past epoch 1 (the epoch-1 checkpoint is then on disk)."""
    proc = subprocess.Popen(_cmd(world, out), env=_env(world["data"], world["cache"]), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    seen: list[str] = []
    deadline = time.monotonic() + WAIT
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(timeout=5):
                    continue
                line = proc.stdout.readline()
                if not line:
                    break  # it ended before we could kill it
                seen.append(line)
                m = re.search(r"'epoch': '?([0-9.]+)", line)
                if m and 1.0 < float(m.group(1)) < 2.0 and "'loss'" in line:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
                    return seen
        pytest.fail("the run ended or stalled before reaching epoch 2:\n" + "".join(seen[-30:]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def test_killed_run_resumes_to_the_same_result(world, tmp_path):
    whole = _train(world, tmp_path / "whole")
    steps_per_epoch = whole["steps"] // EPOCHS
    assert steps_per_epoch >= 3  # room to kill inside an epoch
    # Disk: KEEP of the EPOCHS per-epoch checkpoints stay: the last, and the best by eval accuracy
    # (the course tracks metric_for_best_model, and Trainer never rotates the best one out).
    kept = _checkpoints(tmp_path / "whole")
    best = Path(whole["best_checkpoint"]).name
    assert len(kept) == KEEP and f"checkpoint-{whole['steps']}" in kept and best in kept, (kept, best)

    out = tmp_path / "interrupted"
    _kill_mid_second_epoch(world, out)
    assert _checkpoints(out) == [f"checkpoint-{steps_per_epoch}"]  # killed inside epoch 2
    assert not (out / "metrics.json").exists()

    resumed = _train(world, out, "--resume")
    assert resumed["resumed_from"] and resumed["resumed_from"].endswith(f"checkpoint-{steps_per_epoch}")
    assert resumed["steps"] == whole["steps"]
    # The same final metric as the uninterrupted run (and, on one CPU thread, the same weights).
    assert resumed["eval_accuracy"] == whole["eval_accuracy"]
    assert resumed["eval_loss"] == pytest.approx(whole["eval_loss"], abs=1e-5)
    assert resumed["final_weights_sha256"] == whole["final_weights_sha256"]
    assert _checkpoints(out) == _checkpoints(tmp_path / "whole")
    # The stand-in's corrupt clip was skipped in both.
    assert resumed["train_clips"] == whole["train_clips"]
