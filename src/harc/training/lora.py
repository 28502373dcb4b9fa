"""LoRA adapter configuration from :class:`LoraSettings`, checked against the model."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from peft import LoraConfig
from peft.tuners.tuners_utils import BaseTunerLayer

from harc.errors import HarcError
from harc.training.config import LoraSettings

if TYPE_CHECKING:
    from harc.models.loading import LoadedModel

logger = logging.getLogger(__name__)


def lora_config(
    model: torch.nn.Module, settings: LoraSettings, layers: Sequence[int] | None = None
) -> LoraConfig:
    """A PEFT LoraConfig for ``model``, optionally only in decoder blocks ``layers``; target
    names the model lacks are skipped with a warning, and none matching at all is an error
    listing the model's linear layers."""
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
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        layers_to_transform=list(layers) if layers is not None else None,
        bias="none",
        task_type="CAUSAL_LM",
    )


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
