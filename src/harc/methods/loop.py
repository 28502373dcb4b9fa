"""A small LoRA training loop for methods with their own loss (circuit breakers, RepBend).

The method supplies ``micro_loss(model, step, micro)`` returning named loss terms (``"loss"``
is what is minimised); ``step`` is the 1-based OPTIMIZER step, the same for every micro-batch
of that step, so step-dependent coefficients stay correct under gradient accumulation. The
loop owns LoRA wrapping, AdamW with linear warm-up, accumulation, the NaN stop, the per-step
log, checkpoints (every ``checkpoint_every`` steps; a run whose folder holds one continues from
the latest, the settings checked, its training time carried over) and saving the adapter, and
always leaves ``loaded.model`` without LoRA layers afterwards.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from peft import LoraConfig, PeftModel
from pydantic import Field

from harc.errors import HarcError
from harc.methods.base import MethodConfig
from harc.models.loading import LoadedModel
from harc.training.checkpoint import (
    claim_for_resume,
    latest_checkpoint,
    resume_from,
    save_checkpoint,
)
from harc.training.config import LoraSettings
from harc.training.loop import run_steps
from harc.training.lora import adapter_scope
from harc.training.optimization import LoraOptimization, MicroStep

MicroLoss = Callable[[PeftModel, int, int], dict[str, torch.Tensor]]
LOG_FILE = "train_log.jsonl"
logger = logging.getLogger(__name__)


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
    checkpoint_every: int = Field(0, ge=0)  # 0: no checkpoints


def final_term(log_path: Path, term: str) -> float:
    """Mean of a logged loss term over the last tenth (at least one) of the logged steps: how
    a run ended, read back for the methods' end-of-training checks."""
    tail = _tail(log_path, term)
    return sum(tail) / len(tail)


def _tail(log_path: Path, term: str) -> list[float]:
    """The term's values over the last tenth (at least one) of the logged steps."""
    values = [
        float(json.loads(line)[term])
        for line in log_path.read_text().splitlines()
        if line.strip()
    ]
    if not values:
        raise HarcError(f"{log_path}: no logged steps")
    return values[-max(1, len(values) // 10) :]


def end_check(log_path: Path, term: str, limit: float, warning: str,
              **values: object) -> tuple[float, list[str]]:
    """A method's end-of-training check: the term's :func:`final_term` and, where it ended
    above ``limit``, ``warning`` formatted with ``value``, ``tail`` (the steps averaged) and
    ``values``, logged and returned (the methods keep it in their output's ``extra``)."""
    tail = _tail(log_path, term)
    value = sum(tail) / len(tail)
    if value <= limit:
        return value, []
    text = warning.format(value=value, tail=len(tail), **values)
    logger.warning(text)
    return value, [text]


@dataclass
class LoopResult:
    adapter_dir: Path
    log_path: Path
    steps: int
    seconds: float
    last: dict[str, float]


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
    log_path = out_dir / LOG_FILE
    torch.manual_seed(config.seed)
    checkpoint = latest_checkpoint(out_dir)
    # max_steps stays in the claim: circuit breakers' loss schedule depends on it
    claim_for_resume(out_dir, loaded.name, config, has_checkpoints=checkpoint is not None)
    with adapter_scope(loaded):
        opt = LoraOptimization(loaded, lora, lr=config.lr, weight_decay=config.weight_decay,
                               warmup_steps=config.warmup_steps,
                               mixed_precision=config.mixed_precision)
        main, start = opt.accelerator.is_main_process, 0
        if checkpoint is not None:
            restored = resume_from(checkpoint, opt, [log_path], desc)
            start, started = restored.step, started - (restored.seconds or 0.0)
        elif main:
            log_path.unlink(missing_ok=True)

        def micro_step_for(step: int) -> MicroStep:
            def micro_step(micro: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
                with opt.accelerator.autocast():  # the whole own loss, as the methods expect
                    terms = micro_loss(opt.model, step, micro)
                return terms["loss"], {k: v for k, v in terms.items() if k != "loss"}

            return micro_step

        def after_step(step: int) -> None:
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                save_checkpoint(out_dir, step, opt.model, opt.optimizer, opt.scheduler, None, [],
                                accelerator=opt.accelerator,
                                seconds=time.perf_counter() - started)

        totals = run_steps(opt, micro_step_for, start=start, max_steps=config.max_steps,
                           grad_accum=config.grad_accum, log_path=log_path, desc=desc,
                           progress=progress, total_name="loss", after_step=after_step)
        adapter_dir = out_dir / "adapter"
        if main:
            opt.model.save_pretrained(adapter_dir)
        opt.accelerator.wait_for_everyone()
    return LoopResult(
        adapter_dir, log_path, config.max_steps, time.perf_counter() - started, totals
    )
