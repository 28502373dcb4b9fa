"""Circuit breakers by representation rerouting (Zou et al., 2024), in our own LoRA loop.

Loss per micro-batch, at optimizer step ``t`` of ``T``:

    c_retain = alpha * t / (2T),   c_rr = alpha * (1 - t / (2T))
    L = c_retain * mean ||h_tuned - h_orig||_2   (retain rows, every slot up to the deepest target)
      + c_rr * mean relu(cos(h_tuned, h_orig))   (reroute rows, target slots)

``h_orig`` is the original model: the same weights with the adapter disabled. Means run over
tokens (``*_tokens``: ``all`` = prompt and response, as the original code's masks do) and
slots. The schedule uses the OPTIMIZER step: the original code advances it per micro-batch
(``compute_loss`` call), which under gradient accumulation ends the schedule early.

Rows: reroute = harmful prompt + harmful answer; retain = harmless and pseudo-harmful prompts
with their answers, plus (``retain_refusals``, as the original does for Llama-3) harmful
prompts with their refusals. As in the original, LoRA only touches the blocks below the
deepest target layer, and the forward pass stops there. The original's retain mean also
counts the embedding slot and padding; ours averages over real tokens of slots 1..deepest.

The rerouting term starts at its maximum: where the adapter is the identity, cos(h + d, h)
has zero gradient in d (it grows like |d|/|h|^2), while the retain distance's gradient has
unit size from the first step. On a small model at a small budget the term can stay near 1
for the whole run; :func:`~harc.methods.loop.end_check` reads it back and the method
warns when it did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from accelerate import PartialState
from peft import PeftModel
from pydantic import Field

from harc.errors import HarcError
from harc.methods.base import WARNINGS, MethodOutput, saved_adapter_output
from harc.methods.budget import FULL, equal_compute
from harc.methods.loop import LoopConfig, end_check, train_lora
from harc.methods.registry import register_method
from harc.methods.representations import (
    RowBatch,
    TokenSet,
    encode_rows,
    forward_hidden,
    masked_token_mean,
    original_forward,
    target_slots,
)
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format
from harc.training.config import LoraSettings
from harc.training.data import TrainingData
from harc.training.lora import lora_config
from harc.training.sampling import draw

REROUTE, RETAIN = 0, 1
# Mean cosine over the last tenth of training above this: the harmful representations were
# not turned (the paper's trained models end far below it).
NOT_REROUTED = 0.99



class CircuitBreakersConfig(LoopConfig):
    """Paper values for Llama-3-8B-Instruct: LoRA r=16, alpha=16, dropout 0.05; lr 1e-4;
    150 steps of 16 reroute + 16 retain rows; alpha 10; target layers 10 and 20 of 32."""

    lora: LoraSettings = Field(default_factory=lambda: LoraSettings(r=16, alpha=16, dropout=0.05))
    lr: float = Field(1e-4, gt=0)
    max_steps: int = Field(150, gt=0)
    batch_size: int = Field(16, gt=0)  # per row kind: this many reroute AND retain rows
    alpha: float = Field(10.0, ge=0)
    target_depths: list[float] = Field(default_factory=lambda: [10 / 32, 20 / 32])
    target_layers: list[int] | None = None  # explicit slots; overrides target_depths
    reroute_tokens: TokenSet = "all"
    retain_tokens: TokenSet = "all"
    retain_layers: Literal["up_to_deepest", "targets"] = "up_to_deepest"
    retain_refusals: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        FULL: equal_compute("loop", per_kind=True),
        # Embedded 0.5B on 2 CPU cores: ~4 rows x 128 tokens per step, a few minutes in all.
        "cpu": {
            "lora": {"r": 8, "alpha": 8, "dropout": 0.05},
            "lr": 2e-4,
            "max_steps": 10,
            "batch_size": 2,
            "max_length": 128,
        },
    }


def cb_coefficients(step: int, max_steps: int, alpha: float) -> tuple[float, float]:
    """(c_retain, c_rr) at optimizer step ``step`` (1-based) of ``max_steps``."""
    progress = step / (2 * max_steps)
    return alpha * progress, alpha * (1.0 - progress)


def rerouting_loss(tuned: torch.Tensor, original: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """mean relu(cos(h_tuned, h_orig)) over masked tokens and slots; ``[rows, T, slots, D]``."""
    cosine = F.cosine_similarity(tuned.float(), original.detach().float(), dim=-1, eps=1e-8)
    return masked_token_mean(F.relu(cosine), mask)


def retain_loss(tuned: torch.Tensor, original: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """mean ||h_tuned - h_orig||_2 over masked tokens and slots; ``[rows, T, slots, D]``."""
    # Norms accumulate in float32 without a float32 copy of every slot's states (memory).
    difference = tuned - original.detach()
    return masked_token_mean(
        torch.linalg.vector_norm(difference, dim=-1, dtype=torch.float32), mask
    )


class CircuitBreakersLoss:
    """``micro_loss`` for :func:`~harc.methods.loop.train_lora` (see the module docstring)."""

    def __init__(
        self,
        config: CircuitBreakersConfig,
        data: TrainingData,
        chat: ChatFormat,
        pad_token_id: int,
        targets: list[int],
    ) -> None:
        self.config, self.chat, self.pad_token_id = config, chat, pad_token_id
        self.targets = targets
        deepest = max(targets)
        self.retain_slots = (
            list(range(1, deepest + 1)) if config.retain_layers == "up_to_deepest" else targets
        )
        self.slots = sorted(set(self.retain_slots) | set(targets))
        self.target_index = [self.slots.index(slot) for slot in targets]
        self.retain_index = [self.slots.index(slot) for slot in self.retain_slots]
        self.reroute = [(ex.prompt, ex.harmful_answer) for ex in data.harmful if ex.harmful_answer]
        if not self.reroute:
            raise HarcError("circuit breakers need harmful answers (the rerouting set) in the data")
        self.retain = [(ex.prompt, ex.answer) for ex in (*data.harmless, *data.pseudo)]
        if config.retain_refusals:
            self.retain += [(ex.prompt, ex.refusal) for ex in data.harmful]

    def batch(self, step: int, micro: int) -> RowBatch:
        # each rank of a multi-process run draws its own rows
        where = {"seed": self.config.seed, "step": step, "micro": micro,
                 "process": PartialState().process_index}
        rows = [(p, r, REROUTE) for p, r in draw(self.reroute, self.config.batch_size, pool_id=0,
                                              **where)]
        rows += [(p, r, RETAIN) for p, r in draw(self.retain, self.config.batch_size, pool_id=1,
                                               **where)]
        return encode_rows(self.chat, rows, self.pad_token_id)

    def __call__(self, model: PeftModel, step: int, micro: int) -> dict[str, torch.Tensor]:
        rows = self.batch(step, micro)
        rows.batch = rows.batch.to(next(model.parameters()).device)
        groups = rows.groups.to(rows.batch.input_ids.device)
        original = original_forward(model, rows, self.slots).hidden
        tuned = forward_hidden(model, rows, self.slots).hidden
        reroute, retain = groups == REROUTE, groups == RETAIN
        at_targets, at_retain = self.target_index, self.retain_index
        rr = rerouting_loss(
            tuned[reroute][:, :, at_targets],
            original[reroute][:, :, at_targets],
            rows.token_mask(self.config.reroute_tokens)[reroute],
        )
        kept = retain_loss(
            tuned[retain][:, :, at_retain],
            original[retain][:, :, at_retain],
            rows.token_mask(self.config.retain_tokens)[retain],
        )
        c_retain, c_rr = cb_coefficients(step, self.config.max_steps, self.config.alpha)
        return {
            "loss": c_retain * kept + c_rr * rr,
            "rerouting": rr,
            "retain": kept,
            "c_retain": torch.tensor(c_retain),
            "c_rr": torch.tensor(c_rr),
        }


@register_method
class CircuitBreakersMethod:
    name: ClassVar[str] = "circuit_breakers"
    kind: ClassVar[Literal["training"]] = "training"
    config_class: ClassVar[type[CircuitBreakersConfig]] = CircuitBreakersConfig

    def run(
        self,
        loaded: LoadedModel,
        data: TrainingData,
        out_dir: str | Path,
        config: CircuitBreakersConfig,
        *,
        progress: bool = True,
    ) -> MethodOutput:
        out = Path(out_dir)
        chat = chat_format(loaded, max_length=config.max_length)
        targets = target_slots(loaded.model, config.target_depths, config.target_layers)
        pad = loaded.tokenizer.pad_token_id
        loss = CircuitBreakersLoss(
            config,
            data,
            chat,
            int(pad if pad is not None else loaded.tokenizer.eos_token_id),
            targets,
        )
        # Blocks at or past the deepest target cannot change any slot the loss reads.
        lora = lora_config(loaded.model, config.lora, layers=range(max(loss.slots)))
        result = train_lora(
            loaded, config, out, loss, lora=lora, desc="circuit breakers", progress=progress
        )
        final, warnings = end_check(
            result.log_path, "rerouting", NOT_REROUTED,
            "circuit breakers: the rerouting term ended at cos {value:.4f} (mean of the last "
            "{tail} steps), so the harmful representations were barely turned; its gradient "
            "vanishes where the adapter is the identity, so this model needs more steps or a "
            "larger learning rate")
        return saved_adapter_output(
            self.name, loaded, out, result,
            {"target_slots": targets, "final_rerouting": final, WARNINGS: warnings,
             "config": config.model_dump()},
        )
