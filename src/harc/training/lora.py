"""LoRA adapter configuration from :class:`LoraSettings`, checked against the model."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from peft import LoraConfig
from peft.tuners.tuners_utils import BaseTunerLayer

from harc.errors import HarcError, UnknownArchitectureError
from harc.models.blocks import find_decoder_blocks
from harc.training.config import LoraSettings

if TYPE_CHECKING:
    from harc.models.loading import LoadedModel

logger = logging.getLogger(__name__)


def lora_config(
    model: torch.nn.Module, settings: LoraSettings, layers: Sequence[int] | None = None
) -> LoraConfig:
    """A PEFT LoraConfig for ``model``, optionally only in decoder blocks ``layers``; target
    names the model lacks are skipped with a warning, none matching at all is an error
    listing the model's linear layers, and decoder blocks that hold only some of the remaining
    targets are counted in a warning (:func:`warn_partial_coverage`)."""
    present = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    targets = [name for name in settings.target_modules if name in present]
    if not targets:
        raise HarcError(
            f"none of the LoRA target modules {settings.target_modules} exist in "
            f"{type(model).__name__}; its linear layers are {sorted(present)}"
        )
    missing = sorted(set(settings.target_modules) - set(targets))
    if missing:
        logger.warning("LoRA target modules not in this model, skipped: %s", missing)
    warn_partial_coverage(model, targets, layers)
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        layers_to_transform=list(layers) if layers is not None else None,
        bias="none",
        task_type="CAUSAL_LM",
    )


@dataclass(frozen=True)
class BlockCoverage:
    """Which requested LoRA targets each decoder block holds as ``nn.Linear`` layers."""

    n_blocks: int
    full: list[int]
    partial: dict[int, list[str]]  # block index -> requested targets it lacks
    none: list[int]
    outside: list[str]  # matching linear layers outside the decoder blocks
    fused: list[int]  # blocks holding >= 2-D weights outside any nn.Linear (fused experts?)

    @property
    def complete(self) -> bool:
        return not self.partial and not self.none


def block_coverage(
    model: torch.nn.Module, targets: Sequence[str], layers: Sequence[int] | None = None
) -> BlockCoverage | None:
    """Per decoder block (those in ``layers``, else all), which of ``targets`` it holds;
    None when the model's decoder blocks cannot be located."""
    try:
        blocks = find_decoder_blocks(model)
    except UnknownArchitectureError:
        return None
    wanted = set(targets)
    indices = range(len(blocks)) if layers is None else [i for i in layers if i < len(blocks)]
    full, none, fused = [], [], []
    partial: dict[int, list[str]] = {}
    for index in indices:
        block = blocks[index]
        names = {
            name.rsplit(".", 1)[-1]
            for name, module in block.named_modules()
            if isinstance(module, torch.nn.Linear)
        }
        lacking = sorted(wanted - names)
        if not lacking:
            full.append(index)
        elif len(lacking) == len(wanted):
            none.append(index)
        else:
            partial[index] = lacking
        if _weights_outside_linear(block):
            fused.append(index)
    inside = {id(module) for module in blocks.modules()}
    outside = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and id(module) not in inside
        and name.rsplit(".", 1)[-1] in wanted
    ]
    return BlockCoverage(len(blocks), full, partial, none, outside, fused)


def _weights_outside_linear(block: torch.nn.Module) -> bool:
    for module in block.modules():
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
            continue
        if any(p.dim() >= 2 for p in module.parameters(recurse=False)):
            return True
    return False


def warn_partial_coverage(
    model: torch.nn.Module, targets: Sequence[str], layers: Sequence[int] | None = None
) -> BlockCoverage | None:
    """Log a WARNING when the LoRA targets cover only part of the decoder blocks (hybrid or
    linear-attention layers, fused MoE experts, a nested language model): LoRA would then
    train those parts only, without a word."""
    coverage = block_coverage(model, targets, layers)
    if coverage is None:
        return None
    checked = len(coverage.full) + len(coverage.partial) + len(coverage.none)
    if not coverage.complete:
        lacking: dict[tuple[str, ...], list[int]] = {}
        for index, names in coverage.partial.items():
            lacking.setdefault(tuple(names), []).append(index)
        detail = "; ".join(
            f"blocks {_ranges(indices)} lack {list(names)}" for names, indices in lacking.items()
        )
        logger.warning(
            "LoRA covers only part of the decoder blocks: of %d blocks, %d have every target "
            "%s, %d only some (%s), %d none (%s); the rest of the model is NOT trained",
            checked,
            len(coverage.full),
            list(targets),
            len(coverage.partial),
            detail or "-",
            len(coverage.none),
            _ranges(coverage.none) or "-",
        )
    if coverage.fused:
        logger.warning(
            "%d of %d decoder blocks (%s) hold weights outside nn.Linear (fused MoE experts, "
            "convolutions?), which LoRA target names cannot reach",
            len(coverage.fused),
            checked,
            _ranges(coverage.fused),
        )
    if coverage.outside and layers is None:
        logger.warning(
            "%d linear layers outside the decoder blocks match the LoRA targets and get "
            "adapters too (a vision tower?), e.g. %s",
            len(coverage.outside),
            coverage.outside[:3],
        )
    return coverage


def _ranges(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    runs: list[list[int]] = []
    for index in sorted(indices):
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def strip_adapters(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every PEFT tuner layer in ``model`` by its base layer, in place, WITHOUT merging:
    undoes ``get_peft_model`` on a model whose PeftModel wrapper is out of reach."""
    tuner_names = [name for name, m in model.named_modules() if isinstance(m, BaseTunerLayer)]
    outermost = [
        name
        for name in tuner_names
        if not any(name.startswith(other + ".") for other in tuner_names if other != name)
    ]
    for name in outermost:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = getattr(parent, child)
        setattr(parent, child, layer.get_base_layer())
    if hasattr(model, "peft_config"):
        del model.peft_config
    return model


@contextmanager
def adapter_scope(loaded: LoadedModel) -> Iterator[None]:
    """On exit (also on error) remove LoRA layers from ``loaded.model``, undo any ``forward``
    that training set on the instance, and put the model in eval mode."""
    model = loaded.model
    own_forward = vars(model).get("forward", _NO_FORWARD)
    try:
        yield
    finally:
        strip_adapters(model)
        restore_forward(model, own_forward)
        model.eval()


_NO_FORWARD = object()


def restore_forward(model: torch.nn.Module, own_forward: object = _NO_FORWARD) -> None:
    """Put back the instance-level ``forward`` the model had (none by default).

    Training wrappers (TRL / transformers' Trainer, accelerate) may replace ``model.forward``
    by a function that closes over the model. ``copy.deepcopy`` keeps such a function as is,
    so a deep copy would silently run the ORIGINAL weights: merging an adapter into the copy
    then changes nothing (found as a HARC + DPO row identical to the base model)."""
    if own_forward is _NO_FORWARD:
        vars(model).pop("forward", None)
    else:
        model.forward = own_forward
