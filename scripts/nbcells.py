"""The building blocks of the lesson notebooks: cells, the Colab badge, the setup cell and the hidden
headline cell (``make_notebooks.py`` assembles them; each lesson lives in ``lessons/``).

Stored-outputs policy (see notebooks/README.md): notebooks are stored WITHOUT outputs, except the
cells marked ``# NBVAL_CHECK_OUTPUT``, which store their expected output (and an execution count,
which nbval requires of a reference cell): ``pytest --nbval-lax`` compares the executed output
against it. Those cells print only what is the same in both worlds (Hub and offline stand-ins):
label names, sampling rates, model classes.
"""

from __future__ import annotations

REPO_URL = "https://github.com/audio-course/audio-classification-course"
BRANCH = "main"
CHECK = "# NBVAL_CHECK_OUTPUT"
HEADLINE_TAG = "course-headline"  # the hidden cell that reports a lesson's figure to the runner and the tests


def md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": _lines(text.strip("\n"))}


def code(source: str, expect: str | None = None, metadata: dict | None = None) -> dict:
    """A code cell; ``expect`` is the stored output of a checked cell (then the source must carry CHECK)."""
    source = source.strip("\n")
    outputs = []
    if expect is not None:
        assert source.startswith(CHECK), source[:60]
        outputs = [{"name": "stdout", "output_type": "stream", "text": _lines(expect.strip("\n") + "\n")}]
    else:
        assert CHECK not in source, source[:60]
    # nbval compares only cells that have an execution count (and refuses unrun cells with outputs).
    return {"cell_type": "code", "execution_count": 1 if expect is not None else None, "metadata": metadata or {},
            "outputs": outputs, "source": _lines(source)}


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def badge(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO_URL.removeprefix('https://github.com/')}/blob/{BRANCH}/notebooks/{name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


SETUP = f'''
# Setup: install the course package where it is missing (Colab, Binder); a second run installs nothing.
import importlib.util, subprocess, sys
if importlib.util.find_spec("course_utils") is None:  # pip keeps the torch and the Jupyter already here
    print("Installing the course package, torchcodec and FFmpeg ...")
    for command in (["pip", "install", "-q", "git+{REPO_URL}"], ["course_utils", "install-torchcodec"]):
        subprocess.run([sys.executable, "-m", *command], check=True)  # on failure, pip says why above
import course_utils
world = course_utils.start_world()  # online the Hub; offline a local Hub of stand-ins (before any HF import)
course_utils.quiet_logs()           # routine library messages, each silenced with its reason
OFFLINE, SIZE = world.offline, course_utils.course_size()  # SIZE: "tiny" in CI, "course" for learners
'''


def header(name: str, title: str, intro: str) -> list[dict]:
    return [md(f"# {title}\n\n{badge(name)}\n\n{intro.strip()}"), code(SETUP)]


def headline(source: str) -> dict:
    """The cell that reports the lesson's figure to ``make course`` and the tests: hidden (collapsed
    in JupyterLab, tagged), since it is plumbing, not part of the lesson."""
    return code(source, metadata={"tags": [HEADLINE_TAG], "jupyter": {"source_hidden": True}})
