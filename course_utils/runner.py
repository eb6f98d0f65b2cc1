"""Running the whole course: build what offline mode needs, execute each notebook, summarise.

``make course`` calls ``python -m course_utils course``. Executed copies of the notebooks go to
``out/executed/`` (the notebooks in ``notebooks/`` stay without outputs), and each notebook's
headline figure (``metrics.report_headline``) is collected into the summary table.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from . import hub


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def notebook_paths(only: list[str] | None = None, folder: Path | None = None) -> list[Path]:
    """The lesson notebooks in chapter order (their names start with 01_, 02_, ...)."""
    paths = sorted((folder or repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(prefix) for prefix in only)]
    return paths


def execute_notebook(path: Path, out_path: Path, timeout: int, env: dict) -> None:
    """Execute ``path`` in a fresh kernel of this Python and save the executed copy."""
    import nbformat
    from nbclient import NotebookClient

    from jupyter_client import KernelManager

    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        with tempfile.TemporaryDirectory(prefix="course-kernel-") as sockets:
            # Local sockets rather than TCP: a kernel over TCP warns that its traffic is unencrypted.
            km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
            NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:  # keep the executed copy even when a cell failed: it shows where
        out_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_path)
        os.environ.clear()
        os.environ.update(old)


def summary_table(rows: list[dict]) -> str:
    header = f"{'notebook':44s} {'status':8s} {'wall':>8s}  headline"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['notebook']:44s} {r['status']:8s} {r['seconds']:7.0f}s  {r['headline']}")
    return "\n".join(lines)


def run_course(size: str, timeout: int = 3600, only: list[str] | None = None,
               notebooks: Path | None = None, out_dir: Path | None = None) -> int:
    # First, so that the notebooks' kernels inherit the world (offline: HF_ENDPOINT of the local
    # Hub, which serves each stand-in as soon as its build lands).
    world = hub.start_world(apply=False)
    mode = world.mode
    build_seconds = None
    if world.offline:
        from course_offline.builders import BuildError, default_jobs, run_builds

        start = time.perf_counter()
        try:
            run_builds(size=size, jobs=default_jobs())
        except BuildError as error:
            print(f"Some stand-ins could not be built; notebooks that need them will say so.\n{error}")
        build_seconds = time.perf_counter() - start
    report_dir = Path(tempfile.mkdtemp(prefix="course-report-"))
    env = {**world.env, "COURSE_SIZE": size, "COURSE_MODE": mode, "COURSE_REPORT_DIR": str(report_dir)}
    rows = []
    out_dir = out_dir or repo_root() / "out" / "executed"
    for path in notebook_paths(only, notebooks):
        print(f"\n=== {path.name} ...", flush=True)
        start = time.perf_counter()
        status = "ok"
        try:
            execute_notebook(path, out_dir / path.name, timeout, env)
        except Exception as error:  # report and go on: one broken lesson must not hide the others
            status = "FAILED"
            print(f"{path.name}: {type(error).__name__}: {str(error).strip().splitlines()[-1:]}")
        seconds = time.perf_counter() - start
        headline = "-"
        # A notebook names its record; match on the chapter number so a short name works too.
        for record in sorted(report_dir.glob(f"{path.name[:2]}*.json")):
            data = json.loads(record.read_text())
            headline = f"{data['metric']} = {data['value']:.3f}"
        rows.append({"notebook": path.name, "status": status, "seconds": seconds, "headline": headline})
    print("\n" + summary_table(rows))
    print(f"\nExecuted notebooks (with outputs): {out_dir}")
    # For `make bench`'s wall-time rows (benchmarks/run_all.py).
    out_dir.mkdir(parents=True, exist_ok=True)  # no notebook ran when --only matched none
    (out_dir / "summary.json").write_text(json.dumps(
        {"size": size, "mode": mode, "build_seconds": build_seconds, "rows": rows,
         "notebooks": {r["notebook"]: round(r["seconds"], 1) for r in rows}}, indent=2))
    return 0 if rows and all(r["status"] == "ok" for r in rows) else 1
