"""The install story stays consistent: one list of Python pins, one list of Debian packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_deps() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def test_environment_yml_repeats_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert [d for d in pip_section if d != "-e ."] == _pyproject_deps()
    assert "python=3.11" in env["dependencies"]


def test_binder_requirements_repeat_pyproject():
    lines = [l.strip() for l in (ROOT / "binder/requirements.txt").read_text().splitlines()]
    requirements = [l for l in lines if l and not l.startswith(("#", "-"))]
    assert requirements == _pyproject_deps()
    assert (ROOT / "binder/postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_torch_and_torchcodec_are_pinned_exactly():
    deps = _pyproject_deps()
    assert "torch==2.13.0" in deps and "torchcodec==0.13.0" in deps
    unpinned = [d for d in deps if re.match(r"^torch(\W|$)", d) and "==" not in d]
    assert not unpinned


def test_apt_list_is_the_one_the_installer_and_doctor_use():
    apt = [l.strip() for l in (ROOT / "binder/apt.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert {"ffmpeg", "espeak-ng", "flite", "fluidsynth", "sox", "tuxpaint-stamps-default"} <= set(apt)
    installer = (ROOT / "scripts/install_system_deps.sh").read_text()
    assert "binder/apt.txt" in installer
    doctor = (ROOT / "course_utils/doctor.py").read_text()
    for package in apt:
        assert package in doctor, f"doctor has no check or fix naming {package}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make course" in readme and "make test" in readme
    ci = (ROOT / ".ci/run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    makefile = (ROOT / "Makefile").read_text()
    for target in ("course:", "test:", "lab:", "bench:"):
        assert re.search(rf"^{target}", makefile, re.M), target
