"""Build time of the ESC-50 and GTZAN stand-ins: clips per second, wall and CPU seconds.

    python benchmarks/bench_sound_build.py [--size tiny|course] [--only esc50|gtzan] [--seed N]

Builds into a temporary folder (never touches $COURSE_DATA). CPU seconds include the fluidsynth
subprocesses and the render workers, so the figure is comparable on a busy shared machine; on an
idle machine, wall time is about CPU seconds / 2 for GTZAN (two render processes).
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import tempfile
import time
from pathlib import Path


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="tiny", choices=["tiny", "course"])
    ap.add_argument("--only", choices=["esc50", "gtzan"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    for name in [args.only] if args.only else ["esc50", "gtzan"]:
        module = importlib.import_module(f"course_offline.builders.{name}")
        missing = module.missing_tools()
        if missing:
            print(f"{name}: cannot build, missing: {'; '.join(missing)}")
            continue
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            wall, cpu = time.perf_counter(), cpu_seconds()
            summary = module.build(Path(tmp), size=args.size, seed=args.seed, log=lambda line: None)
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            mb = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet")) / 1e6
        rows = summary["rows"]
        # Render workers of a forkserver pool are not our children: add the CPU they report.
        cpu += summary.get("render_cpu_s", 0.0)
        print(f"{name:6} size={args.size}: {rows} clips in {wall:.1f} s wall, {cpu:.1f} CPU s -> "
              f"{rows / wall:.2f} clips/s wall, {rows / cpu:.2f} clips per CPU-second; {mb:.0f} MB parquet; "
              f"failed {summary['failed']}")


if __name__ == "__main__":
    main()
