"""Command line: ``python -m course_utils {resolve,doctor,install-torchcodec,build,course}``."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import hub


def _cmd_resolve(args) -> int:
    mode = hub.course_mode()
    try:
        if args.id in hub.MODELS or (args.config is None and hub._dataset_spec(args.id) is None):
            target = hub.resolve_model(args.id)
            print(json.dumps({"id": args.id, "kind": "model", "mode": mode, "resolves_to": target,
                              "standin": mode == "offline"}, indent=2))
        else:
            src = hub.resolve_dataset(args.id, args.config)
            print(json.dumps({"id": args.id, "kind": "dataset", "mode": mode, "load_dataset": src.kwargs,
                              "standin": src.standin}, indent=2))
    except hub.StandInNotBuilt as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def _cmd_doctor(args) -> int:
    from .doctor import run_checks

    return 0 if run_checks(print) else 1


def _cmd_build(args) -> int:
    from .builders import BUILDERS, main_build

    if args.list:
        for b in BUILDERS.values():
            state = "built" if hub.standin_dir(b.kind, b.name, args.size).is_dir() else "missing"
            print(f"{b.name:24s} {b.kind:8s} {state}")
        return 0
    return main_build(args.only, args.size, args.seed, args.force, args.jobs)


def _cmd_install_torchcodec(args) -> int:
    from .install import main as install

    return install()


def _cmd_course(args) -> int:
    """Build what offline mode needs, execute every notebook in order, print a summary table."""
    from .runner import run_course

    return run_course(size=args.size, timeout=args.timeout, only=args.only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("resolve", help="print what a Hub id resolves to in the current mode")
    p.add_argument("id")
    p.add_argument("--config", default=None)
    p.set_defaults(func=_cmd_resolve)

    p = sub.add_parser("doctor", help="check the environment and print a fix for each problem")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("install-torchcodec", help="install the torchcodec built for the installed torch (Colab, GPU machines)")
    p.set_defaults(func=_cmd_install_torchcodec)

    p = sub.add_parser("build", help="build the offline stand-ins that are missing or stale")
    p.add_argument("--only", nargs="+", metavar="NAME", help="builders to run (with what they need)")
    p.add_argument("--size", choices=hub.SIZES, default=None, help="default: $COURSE_SIZE or 'course'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.add_argument("--jobs", type=int, default=None, help="builds at once, each in its own process (default: one per core, at most 5)")
    p.add_argument("--list", action="store_true", help="list builders and whether they are built")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("course", help="run every notebook in order and print a summary table")
    p.add_argument("--size", choices=hub.SIZES, default=None, help="default: $COURSE_SIZE or 'course'")
    p.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    p.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="notebook name prefixes, e.g. 01 05")
    p.set_defaults(func=_cmd_course)

    args = parser.parse_args(argv)
    if getattr(args, "size", None) is not None:
        os.environ["COURSE_SIZE"] = args.size  # so notebooks and resolvers see the same size
    if hasattr(args, "size") and args.size is None:
        args.size = hub.course_size()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
