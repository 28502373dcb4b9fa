"""``harc train``: HARC fine-tuning of a model; writes a PEFT adapter, directions and logs."""

from __future__ import annotations

import argparse
from pathlib import Path

from harc.cli.common import (
    add_model_arguments,
    check_prompt_sets,
    load_from_args,
    positive_int,
)
from harc.positions import chat_format
from harc.training import PRESETS, HarcConfig, train_harc
from harc.training.distributed import is_main_process


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="fine-tune a model with HARC", description=__doc__)
    parser.add_argument(
        "--config", required=True, help=f"a preset ({', '.join(PRESETS)}) or a YAML file"
    )
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--max-steps", type=positive_int, default=None, help="override the config")
    add_model_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = HarcConfig.load(args.config)
    if args.max_steps is not None:
        config.max_steps = args.max_steps
    data = config.data
    check_prompt_sets(data.harmful, data.harmless, data.pseudo_harmful, data.validation_harmful,
                      data.validation_harmless)
    loaded = load_from_args(args)
    chat = chat_format(loaded, max_length=config.max_length)
    result = train_harc(loaded, config, args.out, resume=args.resume, chat=chat)
    if not is_main_process():
        return 0  # under a multi-process launch the main process reports
    print(f"HARC: {result.steps} steps in {result.seconds:.0f} s; layers {result.slots}")
    print(f"adapter: {result.adapter_dir}")
    for name, path in result.files.items():
        print(f"{name}: {path}")
    return 0
