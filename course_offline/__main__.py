"""Command line: ``python -m course_offline {build,serve,stop,status,layout}``."""

from __future__ import annotations

import argparse
import os
import sys

from course_utils.hub import SIZES, course_size


def _cmd_build(args) -> int:
    from .builders import BUILDERS, main_build
    from .store import standin_dir

    if args.list:
        for b in BUILDERS.values():
            state = "built" if standin_dir(b.kind, b.name, args.size).is_dir() else "missing"
            print(f"{b.name:24s} {b.kind:8s} {state}")
        return 0
    return main_build(args.only, args.size, args.seed, args.force, args.jobs)


def _cmd_serve(args) -> int:
    from .local_hub import port_for
    from .server import serve
    from .store import Replica

    port = args.port or port_for(args.size)
    print(f"[local hub] serving {Replica(args.size).root} on http://127.0.0.1:{port}", flush=True)
    serve(Replica(args.size), port, idle_exit_s=args.idle_exit)
    return 0


def _cmd_stop(args) -> int:
    from .local_hub import port_for, stop

    port = args.port or port_for(args.size)
    print(f"[local hub] port {port}: " + ("stopped" if stop(args.size, port) else "nothing was running"))
    return 0


def _cmd_status(args) -> int:
    from .local_hub import endpoint, running
    from .store import Replica

    info = running(args.size)
    print(f"local hub ({args.size}): " + (f"running at {endpoint(args.size)}, pid {info['pid']}, serving {info['root']}"
                                          if info else f"not running (it would use {endpoint(args.size)})"))
    missing = Replica(args.size).missing()
    print("stand-ins not built: " + (", ".join(missing) if missing else "none"))
    return 0


def _cmd_layout(args) -> int:
    from .layout import table

    print(table())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_offline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the offline stand-ins that are missing or stale")
    p.add_argument("--only", nargs="+", metavar="NAME", help="builders to run (with what they need)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.add_argument("--jobs", type=int, default=None,
                   help="builds at once, each in its own process (default: one per core, at most 5)")
    p.add_argument("--list", action="store_true", help="list builders and whether they are built")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("serve", help="serve the stand-ins as a Hub on 127.0.0.1 (in the foreground)")
    p.add_argument("--port", type=int, default=None, help="default: $COURSE_HUB_PORT or one derived from the folder")
    p.add_argument("--idle-exit", type=float, default=None, help="exit after this many seconds without a request")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("stop", help="stop the local Hub")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=_cmd_stop)

    p = sub.add_parser("status", help="is the local Hub running, and what is built")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("layout", help="print the table of the real repositories' layout")
    p.set_defaults(func=_cmd_layout)

    for p in sub.choices.values():
        p.add_argument("--size", choices=SIZES, default=None, help="default: $COURSE_SIZE or 'course'")
    args = parser.parse_args(argv)
    if args.size is not None:
        os.environ["COURSE_SIZE"] = args.size
    args.size = args.size or course_size()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
