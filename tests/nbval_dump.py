"""pytest plugin for nbval runs: keep each executed notebook and a summary of its cells.

tests/test_notebooks.py runs ``pytest -p nbval_dump --nbval-lax ... notebooks/`` with
``NBVAL_DUMP_DIR`` set. For every notebook this writes ``<dir>/<name>.ipynb`` with the outputs
nbval received (for the HTML rendering and for a learner to inspect) and ``<dir>/results.json``:
wall seconds, cells run, and the message of every failed cell.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

_notebooks: dict[str, dict] = {}
_KEEP = {
    "stream": ("name", "text"),
    "display_data": ("data", "metadata"),
    "execute_result": ("data", "metadata", "execution_count"),
    "error": ("ename", "evalue", "traceback"),
}


def _record(item) -> dict:
    path = Path(str(item.parent.fspath))
    return _notebooks.setdefault(path.name, {"nb": item.parent.nb, "start": time.perf_counter(), "end": None,
                                             "cells": 0, "failed": []})


def _output(out, count: int) -> dict:
    kind = out.get("output_type")
    node = {"output_type": kind, **{k: out[k] for k in _KEEP[kind] if k in out}}
    if kind == "execute_result":
        node["execution_count"] = count
    if kind in ("display_data", "execute_result"):
        node.setdefault("metadata", {})
    return node


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if type(item).__name__ != "IPyNbCell":
        return
    record = _record(item)
    report = outcome.get_result()
    if call.when != "call":
        if report.failed:
            record["failed"].append({"cell": item.cell_num, "when": call.when, "message": str(report.longrepr)[-4000:]})
        return
    record["cells"] += 1
    record["end"] = time.perf_counter()
    item.cell.execution_count = record["cells"]
    item.cell.outputs = [nbformat.from_dict(_output(o, record["cells"])) for o in (item.test_outputs or [])
                         if o.get("output_type") in _KEEP]
    if report.failed:
        record["failed"].append({"cell": item.cell_num, "source": item.cell.source[:300],
                                 "message": str(report.longrepr)[-4000:]})


def pytest_sessionfinish(session):
    folder = os.environ.get("NBVAL_DUMP_DIR")
    if not folder:
        return
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, record in _notebooks.items():
        nbformat.write(record["nb"], out / name)
        wall = (record["end"] or record["start"]) - record["start"]
        summary[name] = {"wall_seconds": round(wall, 1), "cells": record["cells"], "failed": record["failed"]}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
