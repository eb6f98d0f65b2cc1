"""Write the five lesson notebooks and the exercise solutions in notebooks/ from lessons/*.py.

    python scripts/make_notebooks.py           # (re)write the notebooks
    python scripts/make_notebooks.py --check   # exit 1 if a notebook differs from what this writes

Each lesson module in ``lessons/`` defines ``NAME`` (the notebook's file name), ``CELLS`` and
``SOLUTION`` (the cells that solve its closing exercise; they go to ``notebooks/solutions.ipynb``,
which CI executes like the lessons). ``nbcells.py`` holds the cell builders and the setup cell.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lessons import lesson01, lesson02, lesson03, lesson04, lesson05  # noqa: E402
from nbcells import BRANCH, REPO_URL, header  # noqa: E402,F401  (BRANCH, REPO_URL: read by the tests)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = [lesson01, lesson02, lesson03, lesson04, lesson05]
CLAP_UNSEEN = lesson04.CLAP_UNSEEN
SOLUTIONS = "solutions.ipynb"


def solutions_cells() -> list[dict]:
    cells = header(SOLUTIONS, "Solutions to the lessons' exercises", """
One section per lesson. Try each exercise in its lesson first: the solution is one way among
several. Every section loads what it needs, so you can run any one of them on its own (after this
first cell).
""")
    for lesson in LESSONS:
        cells += lesson.SOLUTION
    return cells


NOTEBOOK_CELLS = {lesson.NAME: lesson.CELLS for lesson in LESSONS}
NOTEBOOK_CELLS[SOLUTIONS] = solutions_cells()


def notebook(cells: list[dict]) -> dict:
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "colab": {"provenance": []},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(cells: list[dict]) -> str:
    nb = notebook(cells)
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i:02d}"  # stable ids: a regenerated notebook is byte-identical
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the notebooks are up to date")
    args = parser.parse_args(argv)
    stale = []
    for name, cells in NOTEBOOK_CELLS.items():
        path = NOTEBOOKS / name
        text = render(cells)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run scripts/make_notebooks.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
