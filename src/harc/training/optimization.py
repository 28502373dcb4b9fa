"""One optimizer step of a LoRA adapter, the same for HARC and the own-loss baselines and the
same on one process or several (see :mod:`harc.training.distributed`): AdamW with linear
warm-up then constant, gradient accumulation over micro-batches, gradients averaged over
ranks, loss terms averaged over ranks, and a non-finite loss on any rank reported to every
rank before any backward pass, so no rank waits in an all-reduce for one that stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from accelerate import Accelerator
from peft import LoraConfig, PeftModel, get_peft_model

from harc.models.loading import LoadedModel
from harc.training.distributed import (
    all_finite,
    average_gradients,
    mean_over_ranks,
    training_accelerator,
)

# micro-batch index -> (loss to minimise, named terms to log); both on this rank's rows
MicroStep = Callable[[int], tuple[torch.Tensor, dict[str, torch.Tensor]]]


@dataclass
class StepResult:
    terms: dict[str, float]  # mean over micro-batches and ranks
    finite: bool  # False: some rank had a non-finite loss; nothing was updated


class LoraOptimization:
    """LoRA on ``loaded.model`` (in place: use inside ``adapter_scope``) with its optimizer.

    ``model`` is the PEFT model, running under the configured mixed precision (accelerate's
    autocast forward, without a DDP wrapper; gradients are averaged explicitly)."""

    def __init__(
        self, loaded: LoadedModel, lora: LoraConfig, *, lr: float, weight_decay: float,
        warmup_steps: int, mixed_precision: str,
    ) -> None:
        self.accelerator: Accelerator = training_accelerator(loaded, mixed_precision)
        peft_model = get_peft_model(loaded.model, lora)
        self.parameters = [p for p in peft_model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.parameters, lr=lr, weight_decay=weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0)
        # evaluation_mode: accelerate applies autocast and device placement but no DDP wrapper
        self.model: PeftModel = self.accelerator.prepare_model(peft_model, evaluation_mode=True)

    @property
    def lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def step(self, micro_step: MicroStep, grad_accum: int) -> StepResult:
        totals: dict[str, float] = {}
        for micro in range(grad_accum):
            loss, terms = micro_step(micro)
            values = {name: float(value.detach()) for name, value in terms.items()}
            values["total"] = float(loss.detach())
            if not all_finite(self.accelerator, values.values()):
                self.optimizer.zero_grad(set_to_none=True)
                return StepResult(mean_over_ranks(self.accelerator, values), False)
            for name, value in values.items():
                totals[name] = totals.get(name, 0.0) + value / grad_accum
            self.accelerator.backward(loss / grad_accum)
        average_gradients(self.accelerator, self.parameters)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepResult(mean_over_ranks(self.accelerator, totals), True)
