"""Every speed benchmark of the course in one run, printed as one table (``make bench``).

    python benchmarks/run_all.py [--size tiny|course] [--only preprocessing|inference|load_audio|gpu|real_sizes|wall]
                                 [--json FILE]

Baseline and course figures of each measure sit side by side with their ratio (how many times
better the course's way is) and the target. Nothing is asserted: a case that cannot run (a
stand-in not built, no GPU) says so in its row. Timings depend on the machine and on what else
runs on it; compare ratios measured in the same run.

``real_sizes`` measures each lesson's model at the real checkpoint's size (random weights) against
mybinder.org's 2 GB: about 10 minutes of the run at course size, seconds at ``--size tiny`` (tiny
configs of the same classes).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WALL_FILES = [HERE / "wall_times.json", REPO / "out" / "executed" / "summary.json"]
BENCHES = ["preprocessing", "inference", "load_audio", "gpu", "real_sizes", "wall"]


def machine() -> str:
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        mem = ""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores{mem}, {gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def wall_rows() -> list[dict]:
    """Wall times of the notebooks and of ``make test``, measured elsewhere and saved as JSON: the
    tiny-size figures kept in benchmarks/ and the last ``make course`` run's summary.

    Accepted: ``{"notebooks": {name: seconds}, "make_test": seconds, "build_seconds": seconds,
    "size": ...}`` or a list of ``{"notebook", "seconds", "status"}`` rows.
    """
    name = "wall time"
    rows: list[dict] = []
    for path in WALL_FILES:
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError as error:
            rows.append({"bench": name, "measure": "-", "note": f"{path}: not JSON ({error})"})
            continue
        if isinstance(data, list):
            data = {"notebooks": {r["notebook"]: r["seconds"] for r in data if "seconds" in r}}
        size = f", size {data['size']}" if data.get("size") else ""
        found = [{"bench": name, "measure": f"{nb} (s)", "course": f"{s:.0f}"}
                 for nb, s in sorted((data.get("notebooks") or {}).items())]
        if data.get("build_seconds") is not None:
            found.append({"bench": name, "measure": "building the stand-ins (s)", "course": f"{data['build_seconds']:.0f}"})
        if data.get("make_test") is not None:
            found.append({"bench": name, "measure": "make test (s)", "course": f"{data['make_test']:.0f}"})
        if found:
            found[0]["note"] = f"from {path.relative_to(REPO)}{size}"
            rows += found
    if rows:
        return rows
    shown = " or ".join(str(p.relative_to(REPO)) for p in WALL_FILES)
    return [{"bench": name, "measure": "notebooks, make test", "note": f"not measured here: no {shown}"}]


def print_table(rows: list[dict]) -> None:
    header = ["benchmark", "measure", "baseline", "course", "ratio", "target", "note"]
    lines = []
    for r in rows:
        ratio = r.get("ratio")
        target = r.get("target")
        met = "" if ratio is None or target is None else (" ok" if ratio >= target else " MISSED")
        # inf: the course's figure is zero (e.g. no cache bytes added)
        shown = "" if ratio is None else "inf" if ratio == float("inf") else f"{ratio:.2f}x"
        lines.append([
            r.get("bench", ""), r.get("measure", ""), str(r.get("baseline", "")), str(r.get("course", "")),
            shown, f">= {target:g}x{met}" if target is not None else "",
            r.get("note", ""),
        ])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if i < 6 else 0 for i, h in enumerate(header)]
    fmt = lambda cells: " | ".join(c.ljust(w) if w else c for c, w in zip(cells, widths))  # noqa: E731
    print(fmt(header))
    print("-|-".join("-" * max(w, 4) for w in widths))
    for line in lines:
        print(fmt(line))


def run_all(size: str, only: list[str] | None = None) -> list[dict]:
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("COURSE_MODE", "offline")  # the benchmarks measure the offline stand-ins
    from course_utils.training import configure_threads

    configure_threads(1)  # torch and numpy BLAS: one thread each
    rows: list[dict] = []
    for bench in only or BENCHES:
        start = time.perf_counter()
        print(f"[bench] {bench} ...", file=sys.stderr, flush=True)
        try:
            if bench == "wall":
                rows += wall_rows()
                continue
            module = __import__(f"bench_{bench}")
            rows += module.run(size)
        except Exception as error:  # one broken benchmark must not hide the others
            rows.append({"bench": bench, "measure": "-", "note": f"failed: {type(error).__name__}: {error}"})
        print(f"[bench] {bench}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default=os.environ.get("COURSE_SIZE", "course"), choices=["tiny", "course"])
    parser.add_argument("--only", action="append", choices=BENCHES)
    parser.add_argument("--json", default=None, help="also write the rows, machine and date to this file")
    args = parser.parse_args()
    os.environ["COURSE_SIZE"] = args.size
    rows = run_all(args.size, args.only)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\nMachine: {machine()}\nDate: {stamp}; stand-ins: size {args.size}\n")
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "date": stamp, "size": args.size, "rows": rows},
                                              indent=2, default=str))


if __name__ == "__main__":
    main()
