"""Command line: ``python -m course_utils {world,doctor,install-torchcodec,course}``.

The offline world has its own: ``python -m course_offline {build,serve,stop,status,layout}``.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import hub


def _cmd_doctor(args) -> int:
    from .doctor import run_checks

    return 0 if run_checks(print) else 1


def _cmd_world(args) -> int:
    """Choose the world; offline, start the local Hub (or find it running) and leave it running."""
    hub.start_world()
    return 0


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

    p = sub.add_parser("world", help="choose the world; offline, start the local Hub of stand-ins")
    p.add_argument("--size", choices=hub.SIZES, default=None, help="default: $COURSE_SIZE or 'course'")
    p.set_defaults(func=_cmd_world)

    p = sub.add_parser("doctor", help="check the environment and print a fix for each problem")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("install-torchcodec", help="install the torchcodec built for the installed torch (Colab, GPU machines)")
    p.set_defaults(func=_cmd_install_torchcodec)

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
