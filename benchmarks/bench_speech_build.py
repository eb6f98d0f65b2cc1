"""Build speed of the speech stand-ins: clips per second per corpus, for a given size.

    python benchmarks/bench_speech_build.py --size tiny
    python benchmarks/bench_speech_build.py --size course --only speech_commands

Each corpus is built into a throw-away folder (COURSE_DATA is not touched). Wall time depends on
what else runs on the machine, so CPU seconds (this process plus the synthesizer subprocesses)
are printed too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

NAMES = ["speech_commands", "minds14", "fleurs"]


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=["tiny", "course"])
    parser.add_argument("--only", action="append", choices=NAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="synthesis threads (COURSE_BUILD_WORKERS)")
    args = parser.parse_args()
    if args.workers:
        os.environ["COURSE_BUILD_WORKERS"] = str(args.workers)
    print(f"size={args.size} seed={args.seed} workers={os.environ.get('COURSE_BUILD_WORKERS', '2')} "
          f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}")
    print(f"{'corpus':16} {'clips':>7} {'skipped':>7} {'wall s':>7} {'cpu s':>7} {'clips/s':>8} {'clips/cpu-s':>11} {'MB':>7}")
    for name in args.only or NAMES:
        module = importlib.import_module(f"course_offline.builders.{name}")
        missing = getattr(module, "missing_tools", lambda: [])()
        if missing:
            print(f"{name:16} not built: {'; '.join(missing)}")
            continue
        out = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        try:
            wall, cpu = time.perf_counter(), cpu_seconds()
            summary = module.build(out, size=args.size, seed=args.seed, log=lambda m: None)
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            clips = summary["clips"]
            print(f"{name:16} {clips:7d} {summary['skipped']:7d} {wall:7.1f} {cpu:7.1f} {clips / wall:8.1f} "
                  f"{clips / cpu:11.1f} {size_mb(out):7.1f}")
        finally:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
