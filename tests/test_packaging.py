"""The install story stays consistent: one list of Python pins, one list of Debian packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pinned_deps() -> list[str]:
    """The dependencies as `make` installs them: torch and torchcodec from the `cpu` extra."""
    pins = {re.split(r"\W", d)[0]: d for d in _project()["optional-dependencies"]["cpu"]}
    return [pins.get(re.split(r"\W", d)[0], d) for d in _project()["dependencies"]]


def test_environment_yml_repeats_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert [d for d in pip_section if d != "-e ."] == _pinned_deps()
    assert "python=3.11" in env["dependencies"]


def test_binder_requirements_repeat_pyproject():
    lines = [l.strip() for l in (ROOT / "binder/requirements.txt").read_text().splitlines()]
    requirements = [l for l in lines if l and not l.startswith(("#", "-"))]
    assert requirements == _pinned_deps()
    assert (ROOT / "binder/postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_torch_and_torchcodec_are_pinned_exactly_where_make_installs():
    deps = _pinned_deps()
    assert "torch==2.13.0" in deps and "torchcodec==0.13.0" in deps
    assert re.search(r'pip install .*-e "\.\[cpu\]"', (ROOT / "Makefile").read_text())
    # Colab keeps its own CUDA torch: the base requirements only bound it from below.
    base = {re.split(r"\W", d)[0]: d for d in _project()["dependencies"]}
    assert base["torch"].startswith("torch>=") and base["torchcodec"].startswith("torchcodec>=")


def test_installed_torchcodec_is_the_release_for_the_installed_torch():
    from importlib.metadata import version

    import torch

    from course_utils.install import torchcodec_for, torchcodec_works

    wanted = torchcodec_for(torch.__version__)  # e.g. "torchcodec==0.13.*"
    assert re.fullmatch(wanted.split("==")[1].replace(".", r"\.").replace("*", r".*"), version("torchcodec")), wanted
    assert torchcodec_works()[0]


@pytest.mark.parametrize("torch_version, wanted", [
    ("2.6.0", "torchcodec==0.2.*"), ("2.7.1+cu126", "torchcodec==0.5.*"), ("2.8.0", "torchcodec==0.7.*"),
    ("2.9.1+cu128", "torchcodec==0.9.*"), ("2.10.0", "torchcodec==0.10.*"), ("2.13.0+cpu", "torchcodec==0.13.*"),
])
def test_torchcodec_release_per_torch(torch_version, wanted):
    from course_utils.install import torchcodec_for

    assert torchcodec_for(torch_version) == wanted


def test_torchcodec_for_an_old_torch_says_what_to_do():
    from course_utils.install import torchcodec_for

    with pytest.raises(ValueError, match="torch 1.13.1: torchcodec needs torch 2.6 or newer"):
        torchcodec_for("1.13.1")


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
