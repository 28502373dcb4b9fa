"""``harc analyze``: the harmfulness-refusal plane of jailbreaks and harm recognition at
response positions; or, with ``--compare A B``, how directions transfer between two sets."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from harc.cli.common import (
    add_model_arguments,
    check_prompt_sets,
    load_from_args,
    positive_int,
)


def register(commands: argparse._SubParsersAction) -> None:
    from harc.analysis.job import AnalysisConfig

    parser = commands.add_parser(
        "analyze", help="jailbreaks in the harmfulness-refusal plane; direction transfer",
        description=__doc__)
    add_model_arguments(parser)
    defaults = AnalysisConfig()
    parser.add_argument("--adapter", type=Path, default=None,
                        help="PEFT adapter directory (e.g. RUN/adapter from harc train)")
    parser.add_argument("--attacks", default=",".join(defaults.attacks),
                        help="comma-separated single-shot attacks ('direct' is always added)")
    parser.add_argument("--goals", default=defaults.goals, help="harmful goals (prompt spec)")
    parser.add_argument("--harmless", default=defaults.harmless, help="harmless prompts")
    parser.add_argument("--n-goals", type=positive_int, default=defaults.n_goals)
    parser.add_argument("--n-harmless", type=positive_int, default=defaults.n_harmless)
    parser.add_argument("--directions", default=None,
                        help="a DirectionSet file to project on (default: extract from "
                             "--direction-harmful / --direction-harmless)")
    parser.add_argument("--direction-harmful", default=defaults.direction_harmful)
    parser.add_argument("--direction-harmless", default=defaults.direction_harmless)
    parser.add_argument("--max-direction-prompts", type=positive_int,
                        default=defaults.max_direction_prompts)
    parser.add_argument("--slot", type=int, default=None,
                        help="residual slot of the plane (default: best middle slot by AUROC)")
    parser.add_argument("--sweep", action="store_true", help="also analyse every slot")
    parser.add_argument("--measure", choices=("cos", "dot"), default=defaults.measure)
    parser.add_argument("--max-new-tokens", type=positive_int, default=defaults.max_new_tokens)
    parser.add_argument("--judge", default=defaults.judge, help="judge for jailbreak success")
    parser.add_argument("--pairs", default=None,
                        help="pairs file (prompt, response, kind: harmful/refusal/helpful) for "
                             "the response directions (default: self-supplied answers)")
    parser.add_argument("--n-reference", type=positive_int, default=defaults.n_reference)
    parser.add_argument("--response-tokens", type=positive_int, default=defaults.response_tokens)
    parser.add_argument("--threshold", type=float, default=defaults.threshold,
                        help="gap units a CI bound must clear for an axis to count as suppressed")
    parser.add_argument("--resamples", type=positive_int, default=defaults.resamples)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--compare", nargs=2, metavar=("DIRS_A", "DIRS_B"), default=None,
                        help="compare two direction files (or directories holding "
                             "directions.safetensors) instead of analysing a model")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.compare:
        return _compare(args)
    from harc.analysis.job import AnalysisConfig, run_analysis
    from harc.models.identity import model_key, with_adapter
    from harc.positions import chat_format

    config = AnalysisConfig(
        attacks=tuple(name.strip() for name in args.attacks.split(",") if name.strip()),
        goals=args.goals, harmless=args.harmless, n_goals=args.n_goals,
        n_harmless=args.n_harmless, direction_harmful=args.direction_harmful,
        direction_harmless=args.direction_harmless,
        max_direction_prompts=args.max_direction_prompts, directions=args.directions,
        slot=args.slot, sweep=args.sweep, measure=args.measure,
        max_new_tokens=args.max_new_tokens, judge=args.judge, pairs=args.pairs,
        n_reference=args.n_reference, response_tokens=args.response_tokens,
        threshold=args.threshold, resamples=args.resamples, batch_size=args.batch_size,
        seed=args.seed)
    check_prompt_sets(config.goals, config.harmless, None if config.directions else
                      config.direction_harmful, None if config.directions else
                      config.direction_harmless)
    loaded = load_from_args(args)
    chat = chat_format(loaded)
    key = model_key(loaded)
    if args.adapter is not None:
        tuned, sha = with_adapter(loaded, args.adapter)
        key = model_key(loaded, sha)
        loaded = dataclasses.replace(loaded, model=tuned, name=f"{loaded.name} + {args.adapter}")
    result = run_analysis(loaded, config, args.out, chat=chat, key=key,
                          progress=not args.no_progress)
    for row in result.shifts:
        print(f"{row.attack:>22}: harm {row.harm.mean:+.2f} [{row.harm.low:+.2f}, "
              f"{row.harm.high:+.2f}]  refusal {row.refusal.mean:+.2f} [{row.refusal.low:+.2f}, "
              f"{row.refusal.high:+.2f}]  {row.verdict}")
    sep = result.separability
    print(f"slot {result.slot}; separability {sep.accuracy:.3f} vs chance {sep.chance:.3f}; "
          f"response-side fraction (any token / window mean) "
          f"{_fmt(result.recognition.fraction('any_token'))} / "
          f"{_fmt(result.recognition.fraction('window_mean'))}")
    print(f"report: {result.files['markdown']}; done in {result.seconds:.1f} s")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from harc.analysis.report import write_transfer_report
    from harc.analysis.transfer import compare_directions

    result = compare_directions(*args.compare)
    files = write_transfer_report(result, args.out)
    summary = result.summary()
    for name, value in summary["mean_cosine"].items():
        print(f"mean cos(A.{name}, B.{name}) = {_fmt(value)}")
    for name, value in summary["profile_r"].items():
        print(f"profile {name}: r = {_fmt(value)}")
    print(f"report: {files['markdown']}")
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
