"""The ``harc`` command line: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    failed, error_text, started = True, None, time.perf_counter()
    try:
        code = int(args.run(args) or 0)
        failed = False
        return code
    except HarcError as error:
        error_text = str(error)
        print(f"harc: error: {error}", file=sys.stderr)
        return 2
    except BaseException as error:
        error_text = f"{type(error).__name__}: {error}"
        raise
    finally:
        _record_invocation(argv, args, failed, error_text, time.perf_counter() - started)
        if "torch.distributed" in sys.modules:  # a multi-process launch: close its group
            from harc.training.distributed import finish

            finish(wait=not failed)


def _record_invocation(argv: list[str], args: argparse.Namespace, failed: bool,
                       error: str | None, seconds: float) -> None:
    """Append this invocation to its output's manifest: ``OUT/manifest.json`` for an output
    directory, ``OUT.manifest.json`` beside the files of an output prefix (``judge-train``);
    none when nothing was written (a bad input stops before the output exists)."""
    out = getattr(args, "out", None)
    if out is None:
        return
    from harc.manifest import MANIFEST_FILE, append_manifest, invocation_record
    from harc.training.distributed import is_main_process

    out = Path(out)
    if out.is_dir():
        path = out / MANIFEST_FILE
    elif out.parent.is_dir() and any(out.parent.glob(f"{out.name}.*")):
        path = out.with_name(f"{out.name}.{MANIFEST_FILE}")
    else:
        return
    if not is_main_process():
        return

    settings = {key: value for key, value in vars(args).items()
                if key != "run" and not key.startswith("_")}
    try:
        append_manifest(path, invocation_record(
            ["harc", *argv], settings, status="failed" if failed else "finished",
            seconds=seconds, model=getattr(args, "_loaded_model", None),
            judge_model=getattr(args, "_judge_model", None), error=error))
    except OSError as problem:  # the run's own outcome matters more than its record
        logging.getLogger(__name__).warning("could not write the run manifest: %s", problem)
