"""A small LoRA training loop for methods with their own loss (circuit breakers, RepBend).

The method supplies ``micro_loss(model, step, micro)`` returning named loss terms (``"loss"``
is what is minimised); ``step`` is the 1-based OPTIMIZER step, the same for every micro-batch
of that step, so step-dependent coefficients stay correct under gradient accumulation. The
loop owns LoRA wrapping, AdamW with linear warm-up, accumulation, the NaN stop, the per-step
log and saving the adapter, and always leaves ``loaded.model`` without LoRA layers afterwards.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from accelerate import Accelerator
from peft import LoraConfig, PeftModel, get_peft_model
from pydantic import Field
from tqdm.auto import tqdm

from harc.io import append_jsonl
from harc.methods.base import MethodConfig
from harc.models.loading import LoadedModel
from harc.training.config import LoraSettings
from harc.training.harc import TrainingDivergedError
from harc.training.lora import adapter_scope

logger = logging.getLogger(__name__)

MicroLoss = Callable[[PeftModel, int, int], dict[str, torch.Tensor]]
LOG_FILE = "train_log.jsonl"


class LoopConfig(MethodConfig):
    """Optimisation settings shared by the own-loop methods; each method sets its defaults."""

    seed: int = 0
    lora: LoraSettings = Field(default_factory=LoraSettings)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(0, ge=0)
    max_steps: int = Field(150, gt=0)
    grad_accum: int = Field(1, gt=0)
    batch_size: int = Field(16, gt=0)
    max_length: int = Field(1024, gt=8)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"


@dataclass
class LoopResult:
    adapter_dir: Path
    log_path: Path
    steps: int
    seconds: float
    last: dict[str, float]


def draw(pool: Sequence[Any], count: int, seed: Sequence[int]) -> list[Any]:
    """``count`` items of ``pool``, seeded by ``seed`` (with replacement only when needed)."""
    if count == 0 or not pool:
        return []
    rng = np.random.default_rng(list(seed))
    return [pool[i] for i in rng.choice(len(pool), size=count, replace=len(pool) < count)]


def train_lora(
    loaded: LoadedModel,
    config: LoopConfig,
    out_dir: Path,
    micro_loss: MicroLoss,
    *,
    lora: LoraConfig,
    desc: str,
    progress: bool = True,
) -> LoopResult:
    """Train a LoRA adapter on ``loaded.model`` with ``micro_loss``; write ``out_dir/adapter``
    and ``out_dir/train_log.jsonl`` (one line per optimizer step: lr and mean terms)."""
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / LOG_FILE
    log_path.unlink(missing_ok=True)
    torch.manual_seed(config.seed)
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision, cpu=loaded.device.type == "cpu"
    )
    with adapter_scope(loaded):
        model = get_peft_model(loaded.model, lora)
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad],
            lr=config.lr,
            weight_decay=config.weight_decay,
        )
        warmup = config.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
        )
        model, optimizer = accelerator.prepare(model, optimizer)
        peft_model: PeftModel = accelerator.unwrap_model(model)
        peft_model.train()
        totals: dict[str, float] = {}
        bar = tqdm(total=config.max_steps, desc=desc, disable=not progress)
        for step in range(1, config.max_steps + 1):
            totals = {}
            for micro in range(config.grad_accum):
                with accelerator.autocast():
                    terms = micro_loss(peft_model, step, micro)
                for name, value in terms.items():
                    totals[name] = totals.get(name, 0.0) + float(value.detach()) / config.grad_accum
                if not math.isfinite(float(terms["loss"].detach())):
                    bar.close()
                    raise TrainingDivergedError(
                        f"{desc}: non-finite loss at step {step} (micro-batch {micro}): "
                        f"{ {k: float(v.detach()) for k, v in terms.items()} }. Lower the lr."
                    )
                accelerator.backward(terms["loss"] / config.grad_accum)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            append_jsonl(log_path, {"step": step, "lr": scheduler.get_last_lr()[0], **totals})
            bar.update(1)
            bar.set_postfix({name: f"{value:.3f}" for name, value in totals.items()})
        bar.close()
        adapter_dir = out_dir / "adapter"
        peft_model.save_pretrained(adapter_dir)
    return LoopResult(
        adapter_dir, log_path, config.max_steps, time.perf_counter() - started, totals
    )
