"""`make course`'s runner on real notebooks in a real kernel: summary table, headlines, failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

from course_utils.runner import run_course


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)


def test_runner_summarises_and_survives_a_failing_notebook(offline, tmp_path, capsys, monkeypatch):
    # No stand-in builds: an empty registry keeps this test about the runner itself.
    monkeypatch.setattr("course_offline.builders.BUILDERS", {})
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "01_good.ipynb", "from course_utils.metrics import report_headline",
              "report_headline('01_good', 'accuracy', 0.875, n=8)")
    _notebook(folder / "02_broken.ipynb", "raise RuntimeError('lesson bug')")
    _notebook(folder / "03_after.ipynb", "print('still runs')")
    out = tmp_path / "executed"

    code = run_course(size="tiny", timeout=120, notebooks=folder, out_dir=out)
    text = capsys.readouterr().out
    from course_offline import local_hub

    assert local_hub.stop(), "offline, the runner starts the local Hub for the kernels"

    assert code == 1  # one notebook failed
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("0")}
    assert "ok" in lines["01_good.ipynb"] and "accuracy = 0.875" in lines["01_good.ipynb"]
    assert "FAILED" in lines["02_broken.ipynb"]
    assert "ok" in lines["03_after.ipynb"]  # later lessons still ran
    executed = nbformat.read(out / "03_after.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "still runs"
    broken = nbformat.read(out / "02_broken.ipynb", as_version=4)
    assert broken.cells[0].outputs[0]["ename"] == "RuntimeError"  # the failure is kept for the learner
    # The summary `make bench` reads (benchmarks/run_all.py): same rows, one per notebook.
    summary = json.loads((out / "summary.json").read_text())
    assert summary["size"] == "tiny" and summary["mode"] == "offline" and summary["build_seconds"] >= 0
    assert [r["status"] for r in summary["rows"]] == ["ok", "FAILED", "ok"]
    assert set(summary["notebooks"]) == {"01_good.ipynb", "02_broken.ipynb", "03_after.ipynb"}
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import run_all

    monkeypatch.setattr(run_all, "WALL_FILES", [out / "summary.json"])
    monkeypatch.setattr(run_all, "REPO", tmp_path)
    rows = run_all.wall_rows()
    assert [r["measure"] for r in rows] == ["01_good.ipynb (s)", "02_broken.ipynb (s)", "03_after.ipynb (s)",
                                           "building the stand-ins (s)"]
    assert rows[0]["note"] == "from executed/summary.json, size tiny"
    del sys.modules["run_all"]
