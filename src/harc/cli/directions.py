"""``harc directions``: extract v_harm / v_ref (and response-side directions) for a model."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harc.cli.common import (
    add_model_arguments,
    check_prompt_sets,
    load_from_args,
    positive_int,
)
from harc.directions.job import DirectionJobConfig, DirectionJobResult, run_direction_job
from harc.positions import chat_format


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "directions", help="extract harmfulness and refusal directions", description=__doc__
    )
    add_model_arguments(parser)
    defaults = DirectionJobConfig()
    parser.add_argument(
        "--harmful",
        default=defaults.harmful,
        help="harmful prompts: a file or builtin:harmful[:train|heldout]",
    )
    parser.add_argument("--harmless", default=defaults.harmless, help="harmless prompts")
    parser.add_argument("--heldout-harmful", default=defaults.heldout_harmful)
    parser.add_argument("--heldout-harmless", default=defaults.heldout_harmless)
    parser.add_argument("--no-heldout", action="store_true", help="skip held-out statistics")
    parser.add_argument(
        "--responses",
        default=None,
        help="pairs file (prompt, response, kind in harmful/refusal/helpful) for "
        "response-side directions",
    )
    parser.add_argument("--max-prompts", type=positive_int, default=defaults.max_prompts)
    parser.add_argument("--bootstrap", type=positive_int, default=defaults.bootstrap_resamples)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = DirectionJobConfig(
        harmful=args.harmful,
        harmless=args.harmless,
        heldout_harmful=None if args.no_heldout else args.heldout_harmful,
        heldout_harmless=None if args.no_heldout else args.heldout_harmless,
        responses=args.responses,
        max_prompts=args.max_prompts,
        batch_size=args.batch_size,
        bootstrap_resamples=args.bootstrap,
        seed=args.seed,
    )
    check_prompt_sets(config.harmful, config.harmless, config.heldout_harmful,
                      config.heldout_harmless)
    loaded = load_from_args(args)
    chat = chat_format(loaded)
    result = run_direction_job(loaded, config, args.out, chat=chat)
    print_summary(result)
    return 0


def print_summary(result: DirectionJobResult, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="cos(v_harm, v_ref) per residual slot")
    columns = ["slot", "cos", "95% CI"]
    has_auroc = result.heldout_harm is not None
    if has_auroc:
        columns += ["AUROC v_harm", "AUROC v_ref"]
    for column in columns:
        table.add_column(column, justify="right")
    for row in result.rows():
        if row["cos"] is None:
            cells = [str(row["slot"]), "undefined", "-"]
        else:
            cells = [
                str(row["slot"]),
                f"{row['cos']:+.3f}",
                f"[{row['cos_low']:+.3f}, {row['cos_high']:+.3f}]",
            ]
        if has_auroc:
            cells += [f"{row['auroc_harm']:.3f}", f"{row['auroc_refusal']:.3f}"]
        table.add_row(*cells)
    console.print(table)
    for name, path in result.files.items():
        console.print(f"{name}: {path}")
    console.print(f"done in {result.seconds:.1f} s")
