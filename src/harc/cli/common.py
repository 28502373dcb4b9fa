"""Arguments shared by sub-commands: which model to load and how."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from harc.models.devices import DEVICE_HELP
from harc.models.loading import LoadedModel

if TYPE_CHECKING:
    from harc.evaluation.suites import Suite

DTYPE_HELP = ("auto (bfloat16 where the device has native bf16, else float32) | "
              "float32 | bfloat16 | float16")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default=None,
        help="Hub id, local directory or .gguf file (default: the embedded model)",
    )
    group.add_argument("--gguf-file", default=None, help="GGUF file name inside --model")
    group.add_argument("--dtype", default="auto", help=DTYPE_HELP)
    group.add_argument("--device", default="auto", help=DEVICE_HELP)
    group.add_argument("--trust-remote-code", action="store_true")
    group.add_argument(
        "--template",
        default=None,
        help="raw prompt template with {instruction}, for models without a chat template",
    )
    group.add_argument("--batch-size", type=positive_int, default=8)
    group.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="CPU threads for torch (default: torch's choice; 1 is faster on a busy machine)",
    )


def check_prompt_sets(*specs: str | None) -> None:
    """Read every given prompt set now, before the model loads, so a missing, empty or
    malformed file is a one-line error in seconds rather than after minutes of loading."""
    from harc.data import load_prompts

    for spec in specs:
        if spec is not None:
            load_prompts(spec)  # raises DataError (a HarcError) naming the file


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (a clear usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_judge_argument(parser: argparse.ArgumentParser) -> None:
    """``--judge``, repeatable: every harm judge judges every harmfulness sample."""
    parser.add_argument(
        "--judge", action="append", default=None, metavar="NAME",
        help="harm judge, repeatable (each sample is judged by all; the first is the primary): "
             "keyword (a refusal judge: its rate is the compliance rate, not harm), "
             "refusal_probability, llm (= llm-harmbench, a harm judge: the harmful rate, "
             "i.e. ASR), llm-strongreject, llm-refusal, or a registered judge such as probe "
             "(default: keyword, plus probe on the embedded model)",
    )


def judge_specs(args: argparse.Namespace, loaded: LoadedModel | None = None) -> list[str]:
    """The ``--judge`` values; when none was given, the keyword judge, plus the shipped probe
    when ``loaded`` is the model it reads (see ``harc.evaluation.judging.default_judges``)."""
    if args.judge:
        return list(args.judge)
    if loaded is None:
        return ["keyword"]
    from harc.evaluation.judging import default_judges

    return default_judges(loaded.name)


def add_judge_model_arguments(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--judge-model", default=None, help=help)
    parser.add_argument(
        "--judge-model-template", default=None, metavar="TEMPLATE",
        help="raw prompt template with {instruction} for a judge model without a chat template")


def load_judge_model(args: argparse.Namespace, default: str | None = None) -> LoadedModel | None:
    """``--judge-model`` (else ``default``; None when neither), with ``--judge-model-template``
    as its prompt format, checked to have one before anything runs."""
    name = args.judge_model or default
    if name is None:
        return None
    from harc.errors import HarcError
    from harc.models import load_model
    from harc.positions import chat_format

    loaded = load_model(name, dtype=args.dtype, device=args.device,
                        trust_remote_code=getattr(args, "trust_remote_code", False))
    loaded.template = getattr(args, "judge_model_template", None)
    try:
        chat_format(loaded)
    except HarcError as error:
        raise HarcError(f"judge model {loaded.name}: {error}; give its prompt format with "
                        "--judge-model-template") from None
    args._judge_model = model_record(loaded)  # for the run manifest (harc.manifest)
    return loaded


def load_from_args(args: argparse.Namespace) -> LoadedModel:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    if args.model is None:
        from harc.models import load_default

        loaded = load_default(dtype=args.dtype, device=args.device)
    else:
        from harc.models import load_model

        loaded = load_model(
            args.model,
            gguf_file=args.gguf_file,
            dtype=args.dtype,
            device=args.device,
            trust_remote_code=args.trust_remote_code,
        )
    # --template reaches every prompt formatter built for this model (the methods included)
    loaded.template = getattr(args, "template", None)
    args._loaded_model = model_record(loaded)  # for the run manifest (harc.manifest)
    return loaded


def model_record(loaded: LoadedModel) -> dict[str, object]:
    """The loaded model as the run manifest records it."""
    from harc.io import sha256_text
    from harc.models.cpu_bf16 import bf16_matmuls_routed
    from harc.models.devices import native_bf16
    from harc.models.identity import model_key

    template = getattr(loaded.tokenizer, "chat_template", None)
    return {"name": loaded.name, "source": loaded.source, "key": model_key(loaded),
            "dtype": str(loaded.dtype).removeprefix("torch."), "device": str(loaded.device),
            "native_bf16": native_bf16(loaded.device),
            "bf16_matmuls_in_float32": bf16_matmuls_routed(),
            "chat_template_sha256": sha256_text(template) if template is not None else None,
            "template": loaded.template}


def add_data_root_argument(parser: argparse.ArgumentParser) -> None:
    from harc.data.root import DATA_ENV, DEFAULT_DATA_DIR

    parser.add_argument("--data-root", type=Path, default=None,
                        help=f"evaluation data directory (default: ${DATA_ENV}, else "
                             f"{DEFAULT_DATA_DIR} relative to the current directory if it exists)")


def evaluation_data_root(args: argparse.Namespace) -> Path | None:
    """``--data-root``, else ``$HARC_DATA``, else ``../shared/data`` when it exists (None:
    built-in sets only); an error if the chosen one is not a directory. Printed, with where
    it came from."""
    from harc.data.root import resolve_data_root
    from harc.errors import HarcError

    root, origin = resolve_data_root(args.data_root, search_default=True)
    if root is not None and not root.is_dir():
        raise HarcError(f"data root {root} ({origin}) is not a directory")
    print(f"data root: {root if root is not None else '-'} ({origin})")
    return root


def with_batch_size(suite: Suite, batch_size: int | None) -> Suite:
    """The suite with every generation batch size set to ``batch_size``; None keeps the
    suite's own sizes (``--batch-size`` not given)."""
    if batch_size is None:
        return suite
    replace = dataclasses.replace
    return replace(
        suite,
        goals=replace(suite.goals, batch_size=batch_size),
        over_refusal=tuple(replace(e, batch_size=batch_size) for e in suite.over_refusal),
        capability=tuple(replace(e, batch_size=batch_size) for e in suite.capability),
    )
