"""``harc evaluate``: attack rates (compliance by a refusal judge, harmful rate = ASR by a harm
judge), over-refusal and capability of a model (optionally with a HARC adapter), printed as
the paper's Table 1."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

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
from harc.positions import chat_format

if TYPE_CHECKING:
    pass



def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="evaluate harmfulness, over-refusal, capability",
                                 description=__doc__)
    add_model_arguments(parser)
    # Generation batch size: the suite's own sizes unless --batch-size is given.
    parser.set_defaults(batch_size=None)
    parser.add_argument("--adapter", type=Path, default=None,
                        help="PEFT adapter directory (e.g. RUN/adapter from harc train)")
    parser.add_argument("--suite", default="quick", help="quick | paper | a suite YAML file")
    add_data_root_argument(parser)
    add_judge_argument(parser)
    add_judge_model_arguments(
        parser, "model for --judge llm and MT-Bench grading (default for llm: the base weights "
                "of the model under test)")
    parser.add_argument("--decontaminate-with", type=Path, default=None, metavar="RUN_DIR",
                        help="harc train run directory: drop evaluation prompts it trained on")
    parser.add_argument("--limit-scale", type=float, default=1.0,
                        help="multiply every sample size of the suite by this factor")
    parser.add_argument("--method-name", default=None, help="row name in the table")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from harc.evaluation.runner import evaluate
    from harc.evaluation.suites import load_suite
    from harc.report import render_table, write_single_report

    root = evaluation_data_root(args)
    from harc.evaluation.judging import check_specs

    check_specs(judge_specs(args))  # before the model loads
    suite = with_batch_size(load_suite(args.suite), args.batch_size)
    loaded = load_from_args(args)
    judge_model = load_judge_model(args)
    result = evaluate(
        loaded, adapter=args.adapter, suite=suite, data_root=root, judges=judge_specs(args, loaded),
        judge_model=judge_model, decontaminate_with=args.decontaminate_with, out_dir=args.out,
        method_name=args.method_name, limit_scale=args.limit_scale,
        chat=chat_format(loaded),
        progress=not args.no_progress, reporter=write_single_report,
    )
    print(render_table([result]))
    for name, path in result.files.items():
        print(f"{name}: {path}")
    judges = ", ".join(f"{name} (measures {result.judge_measures(name) or '-'})"
                       for name in result.judge_names)
    print(f"judges: {judges}; done in {result.seconds:.1f} s")
    return 0

