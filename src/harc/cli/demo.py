"""``harc demo``: the whole HARC story on one model (default: the embedded one) in one
command: directions, the harmfulness-refusal plane of jailbreaks, HARC training, before/after
evaluation, the plane again, and ``report.md`` + ``report.html``. Stages are resumable: a
rerun skips the finished ones."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harc.cli.common import add_model_arguments, load_from_args, positive_int
from harc.data.root import resolve_data_root
from harc.positions import chat_format


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="the whole pipeline on one model, one report",
                                 description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"),
                        help="output directory (default: runs/demo)")
    parser.add_argument("--budget", choices=("quick", "full"), default="quick",
                        help="quick: ~17 min on 2 CPU cores with the embedded model; full: "
                             "every held-out prompt, more attacks, longer training")
    parser.add_argument("--config", default=None,
                        help="HARC preset or YAML instead of the budget's (cpu-demo)")
    parser.add_argument("--max-steps", type=positive_int, default=None,
                        help="override training steps")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="a ../shared/data-style folder: XSTest and MMLU join the "
                             "evaluation when present (default: $HARC_DATA, else built-in "
                             "sets only)")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    add_model_arguments(parser)
    parser.set_defaults(run=run, batch_size=None)  # None: the budget's batch size


def run(args: argparse.Namespace) -> int:
    from harc.demo import get_budget, run_demo
    from harc.training import HarcConfig

    budget = get_budget(args.budget).with_overrides(batch_size=args.batch_size)
    if args.max_steps is not None:
        budget = budget.with_overrides(train_steps=args.max_steps)
    config = None
    if args.config is not None:
        config = HarcConfig.load(args.config)
        if args.max_steps is not None:
            config = config.model_copy(update={"max_steps": args.max_steps})
    root, _ = resolve_data_root(args.data_root)
    load_started = time.perf_counter()
    loaded = load_from_args(args)
    load_seconds = time.perf_counter() - load_started
    chat = chat_format(loaded)
    result = run_demo(loaded, budget, args.out, train_config=config, data_root=root,
                      chat=chat, progress=not args.no_progress, load_seconds=load_seconds)
    headline = result.stages["07-report"].summary.get("headline", {})
    for key, (before, after) in headline.items():
        print(f"{key}: base {before:.3f} -> HARC {after:.3f}")
    print(f"demo finished in {result.seconds:.0f} s")
    for name, path in result.files.items():
        print(f"{name}: {path}")
    return 0
