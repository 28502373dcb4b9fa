"""``harc compare``: build several safety methods on one model and evaluate them side by side
(the base model first), as the paper's Table 1 plus a trade-off plot."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from harc.cli.common import (
    add_data_root_argument,
    add_judge_argument,
    add_judge_model_arguments,
    add_model_arguments,
    evaluation_data_root,
    judge_specs,
    load_from_args,
    load_judge_model,
    with_batch_size,
)
from harc.models.devices import resolve_device
from harc.positions import chat_format

DEFAULT_METHODS = "base,harc,cast,actadd,harc_guard"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("compare", help="train/apply several methods and compare them",
                                 description=__doc__)
    add_model_arguments(parser)
    # Generation batch size: the suite's own sizes unless --batch-size is given.
    parser.set_defaults(batch_size=None)
    parser.add_argument("--methods", default=DEFAULT_METHODS,
                        help=f"comma-separated method names, 'base' = no defence; "
                             f"METHOD@PRESET adds a row of METHOD built with its own preset "
                             f"(e.g. circuit_breakers@paper) (default: {DEFAULT_METHODS})")
    parser.add_argument("--suite", default="quick", help="quick | paper | a suite YAML file")
    parser.add_argument("--data-config", default=None,
                        help="HARC preset or YAML whose data section and seed give the shared "
                             "training data (default: cpu-demo on CPU, else paper-llama3.1-8b)")
    parser.add_argument("--preset", default=None,
                        help="method preset for methods that have it (default: cpu on CPU, "
                             "else none: the paper values)")
    add_data_root_argument(parser)
    add_judge_argument(parser)
    add_judge_model_arguments(parser, "model for --judge llm and MT-Bench")
    parser.add_argument("--limit-scale", type=float, default=1.0,
                        help="multiply every sample size of the suite by this factor")
    parser.add_argument("--from-run", action="append", default=[], metavar="harc=DIR",
                        help="use a finished `harc train` run as method harc instead of training "
                             "it again (checked: same config but its data section, same training "
                             "answers, same model)")
    parser.add_argument("--from-results", action="append", default=[], metavar="NAME=FILE",
                        help="use a finished row's record (OUT/rows/NAME.json.gz of an earlier "
                             "comparison) instead of building and evaluating it again (checked: "
                             "same suite, model, data, config and judges)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from harc.evaluation.suites import load_suite
    from harc.methods.compare import compare
    from harc.methods.compare_rows import check_methods
    from harc.report import render_table

    names = check_methods(args.methods.split(","))
    # HARC + DPO starts from HARC's adapter, so a finished HARC run serves it too
    trained = [*names, "harc"] if "harc_dpo" in names else names
    from_runs = _method_paths("--from-run", args.from_run, trained, Path.is_dir, "a directory")
    from_results = _method_paths("--from-results", args.from_results, names, Path.is_file,
                                 "a file")
    root = evaluation_data_root(args)
    from harc.evaluation.judging import check_specs

    check_specs(judge_specs(args))  # before the model loads
    on_cpu = resolve_device(args.device).type == "cpu"  # also fails early on a bad --device
    loaded = load_from_args(args)
    judge_model = load_judge_model(args)
    result = compare(
        loaded, names, suite=with_batch_size(load_suite(args.suite), args.batch_size),
        out_dir=args.out, data_root=root, judges=judge_specs(args, loaded), judge_model=judge_model,
        data_config=args.data_config or ("cpu-demo" if on_cpu else "paper-llama3.1-8b"),
        preset=args.preset or ("cpu" if on_cpu else None), limit_scale=args.limit_scale,
        chat=chat_format(loaded),
        progress=not args.no_progress, from_runs=from_runs, from_results=from_results,
    )
    print(render_table(result.results))
    for row in result.rows:
        build = "cached" if row.cached else f"{row.build_seconds:.0f} s"
        print(f"{row.method}: build {build}, evaluation {row.eval_seconds:.0f} s")
    for name, path in result.files.items():
        print(f"{name}: {path}")
    return 0


def _method_paths(flag: str, items: list[str], names: list[str], exists: Callable[[Path], bool],
                  what: str) -> dict[str, Path]:
    from harc.errors import HarcError

    paths = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or name not in names or not exists(Path(path)):
            raise HarcError(f"{flag} {item!r}: expected METHOD=PATH with METHOD among --methods "
                            f"and PATH {what}")
        paths[name] = Path(path)
    return paths
