"""``harc merge``: fold a LoRA adapter into its base model and save a plain model directory.

Before anything is written, the merged model's logits are compared with the adapter model's on
a few built-in prompts; beyond a dtype-aware tolerance the merge stops with an error (a strict
check needs ``--dtype float32``: see ``harc.models.merging.MERGE_RTOL``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peft import PeftModel

from harc.cli.common import add_model_arguments, load_from_args
from harc.errors import HarcError
from harc.io import atomic_dir
from harc.models.merging import merge_check_inputs, merge_checked


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "merge", help="merge a LoRA adapter into the base model", description=__doc__
    )
    parser.add_argument("adapter", type=Path, help="adapter directory (from harc train)")
    parser.add_argument("--out", required=True, type=Path, help="output model directory")
    add_model_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not (args.adapter / "adapter_config.json").is_file():
        raise HarcError(f"{args.adapter}: not a PEFT adapter directory (no adapter_config.json)")
    loaded = load_from_args(args)
    peft_model = PeftModel.from_pretrained(loaded.model, str(args.adapter))
    try:
        merged, check = merge_checked(peft_model, merge_check_inputs(loaded))
    except HarcError as error:
        raise HarcError(f"{error}; nothing was written to {args.out}") from None
    print(f"merge check: {check}")
    with atomic_dir(args.out) as staging:
        merged.save_pretrained(staging)
        loaded.tokenizer.save_pretrained(staging)
    print(f"merged model written to {args.out}")
    return 0
