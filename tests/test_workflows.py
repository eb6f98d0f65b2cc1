"""The two GitHub Actions workflows: valid YAML, the structure Actions needs, and what each must run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CPU = WORKFLOWS / "notebooks-cpu.yml"
GPU = WORKFLOWS / "notebooks-gpu.yml"


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    # YAML 1.1 reads the bare key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(job: dict) -> list[dict]:
    return job["steps"]


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


@pytest.mark.parametrize("path", [CPU, GPU], ids=lambda p: p.name)
def test_workflow_structure(path):
    wf = load(path)
    assert wf.get("name"), f"{path.name}: no name"
    assert wf.get("on"), f"{path.name}: no trigger"
    assert wf["jobs"], f"{path.name}: no jobs"
    for job_id, job in wf["jobs"].items():
        assert re.fullmatch(r"[A-Za-z_][\w-]*", job_id), job_id
        assert job.get("runs-on"), f"{path.name}:{job_id}: no runs-on"
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}:{job_id}: no timeout"
        assert steps(job), f"{path.name}:{job_id}: no steps"
        for step in steps(job):
            assert ("uses" in step) != ("run" in step), f"{path.name}:{job_id}: a step needs exactly one of uses/run: {step}"
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"unpinned action {step['uses']}"
        assert steps(job)[0].get("uses", "").startswith("actions/checkout@"), f"{path.name}:{job_id}: first step must check out"
        # Whatever the workflow uploads is what the notebook tests keep.
        for step in steps(job):
            if step.get("uses", "").startswith("actions/upload-artifact@"):
                assert job["env"]["COURSE_EXECUTED_DIR"].endswith(step["with"]["path"])


def test_cpu_workflow_runs_make_test_offline_on_every_change():
    wf = load(CPU)
    assert {"push", "pull_request"} <= set(wf["on"])
    (job,) = wf["jobs"].values()
    assert str(job["runs-on"]).startswith("ubuntu-")
    assert job["env"]["COURSE_MODE"] == "offline" and job["env"]["COURSE_SIZE"] == "tiny"
    assert re.search(r"^make test$", runs(job), re.M)
    assert re.search(r"^test:", (ROOT / "Makefile").read_text(), re.M), "the Makefile has no test target"


def test_gpu_workflow_runs_the_notebook_tests_in_hub_mode_on_a_gpu_runner():
    wf = load(GPU)
    (job,) = wf["jobs"].values()
    assert isinstance(job["runs-on"], list) and {"self-hosted", "gpu"} <= set(job["runs-on"])
    assert job["env"]["COURSE_MODE"] == "hub" and job["env"]["COURSE_SIZE"] == "course"
    commands = runs(job)
    assert "tests/test_notebooks.py" in commands and (ROOT / "tests" / "test_notebooks.py").exists()
    # The layout table that the offline replica is built from, checked against the real Hub.
    assert "tests/test_hub_route.py" in commands and (ROOT / "tests" / "test_hub_route.py").exists()
    # CUDA torch, not the `cpu` extra's pinned CPU wheel, and the torchcodec built for it.
    assert "[cpu]" not in commands and "course_utils install-torchcodec" in commands
    assert "workflow_dispatch" in wf["on"]
