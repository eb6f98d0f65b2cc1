"""The benchmarks of issue 7 on the tiny stand-ins: the preprocessing comparison starts both ways
from the same cache; the GPU benchmark says why when it cannot run, and on a CPU (``--allow-cpu``)
trains DistilHuBERT's real architecture through notebook 05's code path."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_offline.builders import run_builds

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("COURSE_DATA") or REPO / ".course_data")


@pytest.fixture
def bench(monkeypatch):
    """``bench("gpu")``: the module benchmarks/bench_gpu.py (the folder is not a package)."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    imported = []

    def load(name: str):
        imported.append(f"bench_{name}")
        return importlib.import_module(f"bench_{name}")

    yield load
    for name in imported:
        sys.modules.pop(name, None)


@pytest.fixture
def tiny_gtzan(monkeypatch):
    """The tiny GTZAN stand-in in $COURSE_DATA (built by `make test`; built here otherwise)."""
    monkeypatch.setenv("COURSE_DATA", str(DATA))
    monkeypatch.setenv("COURSE_MODE", "offline")
    run_builds(["gtzan"], size="tiny", log=lambda s: None)
    return DATA


def test_preprocessing_benchmark_compares_like_with_like(tiny_gtzan, bench):
    rows = {r["measure"].strip(): r for r in bench("preprocessing").run("tiny")}
    assert "datasets cache, from empty (MB)" in rows, rows
    # From an empty cache both ways pay for load_dataset's Arrow copy of the encoded audio (the
    # course's way must not find the copy that the model builds left beside the stand-in) ...
    empty = rows["datasets cache, from empty (MB)"]
    assert 10 < float(empty["course"]) < float(empty["baseline"])
    # ... and with the copy made, only the recipe's materialised features are added.
    loaded = rows["added, dataset loaded before (MB)"]
    assert float(loaded["course"]) == 0.0 and float(loaded["baseline"]) > 30 and loaded["ratio"] == float("inf")
    assert rows["inputs on the fly vs materialised (max abs diff, 8 clips)"]["course"] == "0.0e+00"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_gpu_benchmark_says_why_it_cannot_run(bench, tmp_path):
    bench_gpu = bench("gpu")
    rows = bench_gpu.run("tiny")
    assert len(rows) == 1 and rows[0]["note"].startswith("not run: no CUDA GPU")
    rows = bench_gpu.run("tiny", data=str(tmp_path / "absent"), allow_cpu=True)
    assert len(rows) == 1 and rows[0]["note"].startswith(f"not run: {tmp_path / 'absent'} is not built")


def test_gpu_benchmark_trains_the_real_architecture_on_a_cpu(tiny_gtzan, tmp_path):
    out = tmp_path / "gpu.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "benchmarks/bench_gpu.py", "--allow-cpu", "--size", "tiny", "--max-steps", "2",
           "--batch-size", "2", "--json", str(out)]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    value = {r["measure"].split(" (")[0]: r for r in rows}
    # HuBERT-base's front end and two transformer layers: DistilHuBERT's 23.5 M parameters.
    assert 23.3 < float(value["encoder parameters"]["course"]) < 23.7
    assert "fp32" in value["encoder parameters"]["note"]  # never mixed precision on a CPU
    assert "2 steps timed" in value["steps/s"]["note"] and float(value["steps/s"]["course"]) > 0
    ten_epochs = next(r for r in rows if r["measure"].startswith("10 epochs"))
    assert ten_epochs["baseline"] == "60"
    assert ten_epochs["ratio"] == pytest.approx(60 / float(ten_epochs["course"]), rel=0.01)


def test_real_sizes_benchmark_smoke(bench):
    """bench_real_sizes on tiny configs of the five lessons' model classes, all in one child process:
    every model loads, classifies (fp32, and bf16 for XLS-R and Whisper, also one clip at a time) and
    lesson 5's training steps run; the footprint it prints has the shape course_utils.sizing reads."""
    from course_utils.sizing import MODEL_FOOTPRINT

    real_sizes = bench("real_sizes")
    figures = real_sizes.measure(list(real_sizes.MODELS), smoke=True, log=lambda s: None)
    rows = real_sizes.rows(figures, smoke=True)
    assert rows and not [r for r in rows if "failed" in r["note"] or "not run" in r["note"]], rows
    measures = " | ".join(r["measure"] for r in rows)
    for label in ("01 XLS-R 300M bf16, batch 1", "02 AST base fp32", "03 Whisper-medium encoder bf16",
                  "04 CLAP HTSAT-unfused fp32", "05 DistilHuBERT training step, batch 8 x 3s"):
        assert label in measures, measures
    printed = real_sizes.footprint(figures)
    assert set(printed) == set(MODEL_FOOTPRINT)
    for model_id, entry in printed.items():
        assert set(entry) == set(MODEL_FOOTPRINT[model_id]) - {"train_10s", "train_30s"} | (
            {"train_1s", "train_3s"} if "train_10s" in MODEL_FOOTPRINT[model_id] else set()), model_id
        for key in ("fp32", "bf16", "bf16_b1"):
            if key in entry:
                # s_per_clip_avx2: merged in from a run with --isa avx2
                assert set(entry[key]) == set(MODEL_FOOTPRINT[model_id][key]) - {"s_per_clip_avx2"}, (model_id, key)
