"""The install story stays consistent: one list of Python dependencies, one list of Debian packages.

``pip install <the course>`` (the core, what the notebooks' setup cell runs on Colab) installs what the
notebooks import and never installs or upgrades torch or a Jupyter component; the extras add the
rest. ``make`` (and CI), environment.yml and binder/ install the extras they need.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
MAKE_EXTRAS = ["cpu", "lab", "test", "offline"]  # what `make` installs: `make course` and `make test` need all
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
# A learner's runtime keeps these: Colab's torch is a CUDA build of its own, and its Jupyter (server,
# kernel, widgets) is what the page talks to; pip must neither install nor upgrade any of them.
JUPYTER = re.compile(r"^(jupyter.*|notebook.*|nbconvert|nbclient|nbformat|nbval|ipython.*|ipykernel|ipywidgets|"
                     r"widgetsnbextension|traitlets|comm|matplotlib-inline)$")
# Every torch that the core must accept as it is: from 2.6 (the oldest that has a torchcodec) on, with
# the local version labels of the CUDA builds that Colab and GPU machines have.
TORCHES = ["2.6.0", "2.7.1+cu126", "2.8.0+cu126", "2.9.0+cu126", "2.10.0+cu128", "2.13.0+cpu"]
# Imported outside the core on purpose, with the reason.
NOT_CORE = {
    "IPython": "comes with every Jupyter kernel",
    "torchcodec": "`python -m course_utils install-torchcodec` picks the release for the torch present",
    "course_offline": "the offline world, beside course_utils (its imports are checked against `offline`)",
    "nbformat": "`make course`'s runner (course_utils/runner.py), in the `lab` extra",
    "nbclient": "`make course`'s runner (course_utils/runner.py), in the `lab` extra",
    "jupyter_client": "`make course`'s runner (course_utils/runner.py), with nbclient in the `lab` extra",
}
# In the core without being imported by the notebooks or course_utils, with the reason.
CORE_NOT_IMPORTED = {
    "accelerate": "transformers' Trainer (lesson 5) requires it",
    "scikit-learn": "sklearn.metrics.ConfusionMatrixDisplay in the lessons",
}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)


def _core() -> list[str]:
    return _project()["dependencies"]


def _extra(name: str) -> list[str]:
    return _project()["optional-dependencies"][name]


def _core_with_cpu_pins() -> list[str]:
    """What Binder installs: the `cpu` extra's pins, then the core without the packages they pin."""
    pinned = {_name(d) for d in _extra("cpu")}
    return _extra("cpu") + [d for d in _core() if _name(d) not in pinned]


def _closure(requirements: list[str], stop=lambda name: False) -> dict[str, list[tuple[str, str]]]:
    """Every distribution that ``requirements`` reach through the installed packages' metadata:
    name -> [(requirement, who asked)]. Packages for which ``stop(name)`` is true are not entered."""
    found: dict[str, list[tuple[str, str]]] = {}
    wanted = [r for r in map(Requirement, requirements) if not r.marker or r.marker.evaluate({"extra": ""})]
    todo = [(r, "course-utils") for r in wanted]
    entered: set[tuple[str, frozenset]] = set()
    while todo:
        req, parent = todo.pop()
        name = canonicalize_name(req.name)
        found.setdefault(name, []).append((str(req), parent))
        key = (name, frozenset(req.extras))
        if stop(name) or key in entered:
            continue
        entered.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # reported by the tests that need it
        for sub in map(Requirement, dist.requires or []):
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                todo.append((sub, name))
    return found


def _top_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__"}


def _missing_imports(imports: set[str], requirements: list[str], local: set[str]) -> list[str]:
    """The modules in ``imports`` that no distribution reached from ``requirements`` provides."""
    provides = metadata.packages_distributions()
    reached = set(_closure(requirements))
    missing = []
    for module in sorted(imports - local):
        dists = {canonicalize_name(d) for d in provides.get(module, [])}
        if not dists & reached:
            missing.append(f"{module} (from {sorted(dists) or 'no installed distribution'})")
    return missing


def test_the_core_covers_what_the_notebooks_and_course_utils_import():
    """``pip install <the course>`` installs every module the notebooks import, and what course_utils
    imports at run time, except the few in NOT_CORE (each with its reason)."""
    imports = set()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code":
                imports |= _top_imports("".join(cell["source"]))
    assert {"torch", "transformers", "datasets"} <= imports, "the notebooks' imports were not found"
    for path in (ROOT / "course_utils").rglob("*.py"):
        imports |= _top_imports(path.read_text())
    missing = _missing_imports(imports, _core(), local={"course_utils", *NOT_CORE})
    assert not missing, f"imported by the notebooks or course_utils, not installed by the core: {missing}"
    # ... and nothing else: each core requirement provides a module they import, or has its reason.
    provides = metadata.packages_distributions()
    imported = {canonicalize_name(d) for module in imports for d in provides.get(module, [])}
    unused = [d for d in _core() if _name(d) not in imported | set(CORE_NOT_IMPORTED)]
    assert not unused, f"in the core, imported by neither the notebooks nor course_utils: {unused}"
    lab = set(_closure(_extra("lab")))
    assert {"nbformat", "nbclient", "ipykernel"} <= lab, "`make course`'s runner needs these from the lab extra"


def test_the_extras_cover_the_offline_world_the_tests_and_the_benchmarks():
    offline = set()
    for path in (ROOT / "course_offline").rglob("*.py"):
        offline |= _top_imports(path.read_text())
    missing = _missing_imports(offline, _core() + _extra("offline"), local={"course_utils", "course_offline"})
    assert not missing, f"imported by course_offline, not installed by the core or the offline extra: {missing}"
    # lessons: scripts/lessons/; toybuilders: a package that tests/test_builders_runner.py writes
    imports, local = set(), {"course_utils", "course_offline", "lessons", "toybuilders"}
    for folder in ("tests", "benchmarks", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            imports |= _top_imports(path.read_text())
            local.add(path.stem)
    everything = _core() + [d for extra in MAKE_EXTRAS for d in _extra(extra)]
    missing = _missing_imports(imports, everything, local=local | {"IPython"})  # IPython: with ipykernel
    assert not missing, f"imported by the tests, benchmarks or scripts, not installed by `make`: {missing}"


def test_the_core_names_neither_jupyter_nor_a_torch_pin():
    """Static half of the Colab promise, readable at a glance; the dry run below is the proof."""
    core = {_name(d): Requirement(d) for d in _core()}
    assert not [n for n in core if JUPYTER.match(n)], "Jupyter belongs in the lab/test extras"
    assert "torchcodec" not in core, "install-torchcodec chooses torchcodec for the torch present"
    assert all(core["torch"].specifier.contains(v) for v in TORCHES), core["torch"]
    for extra in ("lab", "test", "offline"):
        assert not {_name(d) for d in _extra(extra)} & {"torch", "torchcodec"}, f"{extra} must not touch torch"
    assert {_name(d) for d in _extra("cpu")} == {"torch", "torchcodec"}
    assert {"torch==2.13.0", "torchcodec==0.13.0"} == set(_extra("cpu"))


def _runtime_view(tmp_path: Path) -> Path:
    """A fresh virtualenv that sees this environment's installed distributions, as a Colab runtime sees
    its preinstalled ones (torch, a Jupyter kernel and widgets, transformers, ...), less the ones such a
    runtime lacks: JupyterLab and its server side, and the course itself. Its site-packages holds a
    .pth file naming a folder of symbolic links to the real installed packages: no copies, no fakes."""
    lacks = {"jupyterlab", "jupyterlab-server", "jupyter-lsp", "notebook", "notebook-shim", "course-utils"}
    sites = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    runtime_pth = []
    for i, site in enumerate(sorted(sites)):
        owned: dict[str, set[str]] = {}
        for info in [*site.glob("*.dist-info"), *site.glob("*.egg-info")]:
            dist = metadata.PathDistribution(info)
            entries = {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")} | {info.name}
            owned.setdefault(canonicalize_name(dist.metadata["Name"]), set()).update(entries)
        kept = set().union(*(e for n, e in owned.items() if n not in lacks))
        hidden = set().union(*(e for n, e in owned.items() if n in lacks)) - kept
        view = tmp_path / f"runtime{i}"
        view.mkdir()
        for entry in site.iterdir():
            if entry.name not in hidden and entry.suffix != ".pth":
                (view / entry.name).symlink_to(entry)
        runtime_pth.append(str(view))
    venv = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "runtime.pth").write_text("\n".join(runtime_pth) + "\n")
    return python


def _offline_pip_env(**extra: str) -> dict:
    """This process's environment without pip or Python settings (no configured index or user site)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONNOUSERSITE="1")
    return {**env, **extra}


def colab_dry_run(checkout: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """``pip install --dry-run --report`` of ``checkout`` (the core, no extras) into the runtime view,
    from nothing but what is installed: no index, no find-links, no pip configuration. Whatever pip
    would have to download (a package the runtime lacks, a version it does not have) fails it."""
    python = _runtime_view(tmp_path)
    report = tmp_path / "report.json"
    proc = subprocess.run([python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
                           "--no-index", "--no-build-isolation", str(checkout)],
                          capture_output=True, text=True, env=_offline_pip_env(), timeout=120)
    return proc, json.loads(report.read_text()) if report.exists() else {}


def colab_problems(proc: subprocess.CompletedProcess, report: dict) -> list[str]:
    """What would break the promise, from the dry run and from the requirements pip read in it."""
    if proc.returncode:
        return [f"pip could not install the core from what a runtime with torch and Jupyter holds, so it "
                f"would download something:\n{proc.stderr[-2000:]}"]
    installs = [(item["metadata"]["name"], item["metadata"]["version"]) for item in report["install"]]
    if [canonicalize_name(name) for name, _ in installs] != ["course-utils"]:
        return [f"pip would install more than the course package: {installs}"]
    # The course package as pip built it from the checkout; its core requirements carry no marker.
    requires = [r for r in report["install"][0]["metadata"].get("requires_dist", []) if "extra ==" not in r]
    # The runtime's own versions satisfy the requirements above; a learner's runtime has other versions,
    # so the requirements themselves must leave torch and Jupyter alone, down the whole tree.
    reached = _closure(requires, stop=lambda name: name == "torch" or bool(JUPYTER.match(name)))
    problems = [f"{name} is required ({asks}): pip would install or upgrade it in a learner's Jupyter"
                for name, asks in reached.items() if JUPYTER.match(name)]
    for spec, parent in reached.get("torch", []):
        refused = [v for v in TORCHES if not Requirement(spec).specifier.contains(v, prereleases=True)]
        if refused:
            problems.append(f"{parent} requires {spec}: pip would replace a learner's torch {', '.join(refused)}")
    return problems


def test_pip_install_of_the_core_keeps_the_runtimes_torch_and_jupyter(tmp_path):
    """The Colab promise: in a fresh virtualenv that already holds a torch and a Jupyter stack,
    ``pip install --dry-run --report`` of this checkout would change neither."""
    for needed in ("torch", "ipykernel", "ipywidgets", "pip", "setuptools"):
        metadata.distribution(needed)  # the runtime view is made from this environment: `make` installs them
    proc, report = colab_dry_run(ROOT, tmp_path)
    problems = colab_problems(proc, report)
    assert not problems, "\n".join(problems)


def test_every_install_route_uses_the_extras_it_needs():
    makefile = (ROOT / "Makefile").read_text()
    extras = ",".join(MAKE_EXTRAS)
    assert re.search(rf'^\t\$\(PY\) -m pip install .*-e "\.\[{extras}\]"$', makefile, re.M), \
        f'the $(VENV)/.installed rule installs -e ".[{extras}]"'
    # conda: a full local setup, the same extras as make, torch from the CPU wheel index.
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == [CPU_INDEX, f"-e .[{extras}]"]
    assert "python=3.11" in env["dependencies"]
    # Binder brings its own JupyterLab and learners use the real Hub: the core with the cpu pins only.
    lines = [l.strip() for l in (ROOT / "binder/requirements.txt").read_text().splitlines()]
    assert CPU_INDEX in lines
    assert [l for l in lines if l and not l.startswith(("#", "-"))] == _core_with_cpu_pins()
    post_build = ROOT / "binder/postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    assert re.search(r"^pip install --no-deps -e \.$", post_build.read_text(), re.M)


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


def _run_setup_cell(python: Path, url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Lesson 1's setup cell, as its source stands, run by ``python`` with ``url`` in place of the
    GitHub URL (unreachable here), pip offline (no index: what it needs is in the runtime view)."""
    import nbformat

    cells = nbformat.read(ROOT / "notebooks" / "01_intent_classification_minds14.ipynb", as_version=4).cells
    setup = next(c.source for c in cells if c.cell_type == "code")
    github = f"git+{_project_url()}"
    assert setup.count(github) == 1, setup
    # The cell's own `pip install` reads these: no index, and no build isolation (which would fetch
    # setuptools; pip reads "0" in PIP_NO_BUILD_ISOLATION as "isolation off").
    env = _offline_pip_env(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")
    # cwd: a folder without the checkout, which `python -c` would otherwise put on sys.path
    return subprocess.run([python, "-c", setup.replace(github, f"git+{url}")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def _project_url() -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from nbcells import REPO_URL
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return REPO_URL


def test_the_setup_cell_installs_the_course_where_it_is_missing_and_then_does_nothing(tmp_path):
    """The setup cell's install branch, run for real: in a runtime that has torch and Jupyter but
    not the course (Colab's), it pip-installs the course from a git URL (this checkout's committed
    HEAD standing in for GitHub) and runs install-torchcodec; the world then starts. Run again,
    it installs nothing."""
    python = _runtime_view(tmp_path)
    assert subprocess.run([python, "-c", "import course_utils"], cwd=tmp_path, capture_output=True).returncode, \
        "the runtime view must lack the course package"
    first = _run_setup_cell(python, f"file://{ROOT}", tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert "Installing the course package" in first.stdout, first.stdout
    assert "torchcodec" in first.stdout and "ffmpeg: present" in first.stdout, first.stdout  # install-torchcodec ran
    where = subprocess.run([python, "-c", "import course_utils; print(course_utils.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "colab"), f"course_utils imported from {where}, not the new install"
    second = _run_setup_cell(python, f"file://{ROOT}", tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Installing" not in second.stdout, second.stdout


def test_the_setup_cell_stops_with_pips_reason_when_it_cannot_install(tmp_path):
    python = _runtime_view(tmp_path)
    failed = _run_setup_cell(python, f"file://{tmp_path}/no-such-repository", tmp_path)
    assert failed.returncode != 0
    assert "Installing the course package" in failed.stdout
    # pip says what failed; the cell stops there, naming the command, before any course import
    assert "no-such-repository" in failed.stderr and "CalledProcessError" in failed.stderr, failed.stderr[-3000:]
    assert "start_world" not in failed.stderr
