"""LoRA adapter configuration from :class:`LoraSettings`, checked against the model."""

from __future__ import annotations

import logging

import torch
from peft import LoraConfig

from harc.errors import HarcError
from harc.training.config import LoraSettings

logger = logging.getLogger(__name__)


def lora_config(model: torch.nn.Module, settings: LoraSettings) -> LoraConfig:
    """A PEFT LoraConfig for ``model``; target names the model lacks are skipped with a
    warning, and none matching at all is an error listing the model's linear layers."""
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
        bias="none",
        task_type="CAUSAL_LM",
    )
