"""The ``harc`` command line: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from harc import __version__
from harc.cli import (
    analyze,
    compare,
    demo,
    directions,
    evaluate,
    judge_eval,
    judge_train,
    merge,
    train,
)
from harc.errors import HarcError

COMMANDS = (demo, directions, train, merge, evaluate, analyze, compare, judge_train, judge_eval)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harc", description=__doc__)
    parser.add_argument("--version", action="version", version=f"harc {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    failed = True
    try:
        code = int(args.run(args) or 0)
        failed = False
        return code
    except HarcError as error:
        print(f"harc: error: {error}", file=sys.stderr)
        return 2
    finally:
        if "torch.distributed" in sys.modules:  # a multi-process launch: close its group
            from harc.training.distributed import finish

            finish(wait=not failed)
