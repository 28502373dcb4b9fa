"""RepBend: representation bending (Yousefpour et al., 2025), in our own LoRA loop.

The published loss, at the target slots, with v = h_tuned - h_orig (h_orig: the adapter
disabled) per token:

    L = 1/2 mean ||v_safe||_2  -  alpha * 1/2 mean ||v_unsafe||_2
        + beta * KL(orig || tuned) on the safe rows' response tokens
        + gamma * mean_{i != j} cos(u_i, u_j)

Safe rows keep their representations; unsafe rows are pushed away from the original; ``u_i``
is unsafe row i's tuned representation (mean over its ``unsafe_tokens``, per slot), so the
last term spreads the unsafe representations apart instead of letting them collapse onto
one direction. The push term is unbounded below, as published: keep the step count modest.
At a large learning rate it runs away (the unsafe distance grows without bound and drags the
safe rows with it), so the method reads back the safe responses' KL over the last tenth of the
steps and warns when it ended above ``DIVERGED_KL`` nats per token: the benign behaviour the
KL term exists to keep is gone.

Rows: unsafe = harmful prompt + harmful answer; safe = harmless and pseudo-harmful prompts
with their answers, plus harmful prompts with their refusals (``safe_refusals``).
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
from harc.methods.loop import LoopConfig, end_check, final_term, train_lora
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
from harc.training.losses import token_mean_kl
from harc.training.sampling import draw

UNSAFE, SAFE = 0, 1
# Per-token KL(original || tuned) on the safe responses; a working run stays near 0.1 or below.
DIVERGED_KL = 1.0


class RepBendConfig(LoopConfig):
    """Defaults follow the circuit-breaker setup RepBend builds on (LoRA r=16, alpha=16,
    dropout 0.05; 150 steps; layers 10 and 20 of 32). The term weights and lr are ours."""

    lora: LoraSettings = Field(default_factory=lambda: LoraSettings(r=16, alpha=16, dropout=0.05))
    lr: float = Field(1e-5, gt=0)
    max_steps: int = Field(150, gt=0)
    batch_size: int = Field(16, gt=0)  # per row kind: this many unsafe AND safe rows
    alpha: float = Field(0.5, ge=0)  # unsafe push
    beta: float = Field(1.0, ge=0)  # KL retention
    gamma: float = Field(1.0, ge=0)  # unsafe cosine similarity
    target_depths: list[float] = Field(default_factory=lambda: [10 / 32, 20 / 32])
    target_layers: list[int] | None = None
    safe_tokens: TokenSet = "all"
    unsafe_tokens: TokenSet = "all"
    safe_refusals: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # Equal compute, but not HARC's lr: the unbounded push ran away on the training split
        # at 2e-4 (safe-response KL above 1 nat/token from step 39, 3-7 from step 90) and at
        # 2e-5 (unsafe states moved 20-30 from step 200; KL 1.40 over steps 217-240, the
        # method's own check). So it takes its own default, 1e-5: at 2e-5 the run was healthy
        # up to about step 150 (unsafe states moved ~1.2, KL ~0.01). Chosen on those two logs,
        # before any evaluation of RepBend.
        FULL: {**equal_compute("loop", per_kind=True), "lr": 1e-5},
        "cpu": {
            "lora": {"r": 8, "alpha": 8, "dropout": 0.05},
            "lr": 1e-4,
            "max_steps": 8,
            "batch_size": 2,
            "max_length": 128,
        },
    }


def distance_term(tuned: torch.Tensor, original: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1/2 mean ||h_tuned - h_orig||_2 over masked tokens and slots; ``[rows, T, slots, D]``."""
    norms = torch.linalg.vector_norm(tuned - original.detach(), dim=-1, dtype=torch.float32)
    return 0.5 * masked_token_mean(norms, mask)


def unsafe_cosine(tuned: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean pairwise cosine (i != j) of the rows' masked-token means, averaged over slots.
    ``tuned`` is ``[rows, T, slots, D]``; 0 with fewer than two rows."""
    rows = tuned.shape[0]
    if rows < 2:
        return tuned.sum() * 0.0
    weights = mask.to(tuned.dtype)[:, :, None, None]
    means = (tuned.float() * weights).sum(1) / weights.sum(1).clamp_min(1.0)  # [rows, slots, D]
    unit = F.normalize(means, dim=-1, eps=1e-8).transpose(0, 1)  # [slots, rows, D]
    cosine = unit @ unit.transpose(1, 2)  # [slots, rows, rows]
    off_diagonal = ~torch.eye(rows, dtype=torch.bool, device=tuned.device)
    return cosine[:, off_diagonal].mean()


class RepBendLoss:
    """``micro_loss`` for :func:`~harc.methods.loop.train_lora` (see the module docstring)."""

    def __init__(
        self,
        config: RepBendConfig,
        data: TrainingData,
        chat: ChatFormat,
        pad_token_id: int,
        targets: list[int],
    ) -> None:
        self.config, self.chat, self.pad_token_id = config, chat, pad_token_id
        self.targets = targets
        self.unsafe = [(ex.prompt, ex.harmful_answer) for ex in data.harmful if ex.harmful_answer]
        if not self.unsafe:
            raise HarcError("RepBend needs harmful answers (the unsafe set) in the data")
        self.safe = [(ex.prompt, ex.answer) for ex in (*data.harmless, *data.pseudo)]
        if config.safe_refusals:
            self.safe += [(ex.prompt, ex.refusal) for ex in data.harmful]

    def batch(self, step: int, micro: int) -> RowBatch:
        # each rank of a multi-process run draws its own rows
        where = {"seed": self.config.seed, "step": step, "micro": micro,
                 "process": PartialState().process_index}
        rows = [(p, r, UNSAFE) for p, r in draw(self.unsafe, self.config.batch_size, pool_id=0,
                                              **where)]
        rows += [(p, r, SAFE) for p, r in draw(self.safe, self.config.batch_size, pool_id=1,
                                               **where)]
        return encode_rows(self.chat, rows, self.pad_token_id)

    def __call__(self, model: PeftModel, step: int, micro: int) -> dict[str, torch.Tensor]:
        config = self.config
        rows = self.batch(step, micro)
        rows.batch = rows.batch.to(next(model.parameters()).device)
        groups = rows.groups.to(rows.batch.input_ids.device)
        unsafe, safe = groups == UNSAFE, groups == SAFE
        original = original_forward(model, rows, self.targets, with_logits=True)
        tuned = forward_hidden(model, rows, self.targets, with_logits=True)
        assert tuned.logits is not None and original.logits is not None
        unsafe_mask = rows.token_mask(config.unsafe_tokens)[unsafe]
        terms = {
            "safe": distance_term(
                tuned.hidden[safe], original.hidden[safe], rows.token_mask(config.safe_tokens)[safe]
            ),
            "unsafe": distance_term(tuned.hidden[unsafe], original.hidden[unsafe], unsafe_mask),
            "cosine": unsafe_cosine(tuned.hidden[unsafe], unsafe_mask),
        }
        # logit at column c predicts token c + 1; left padding right-aligns the responses
        columns = rows.logit_columns
        target_mask = rows.batch.response_mask[:, -columns + 1 :][safe]
        terms["kl"] = token_mean_kl(
            original.logits[safe][:, :-1], tuned.logits[safe][:, :-1], target_mask
        )
        terms["loss"] = (
            terms["safe"]
            - config.alpha * terms["unsafe"]
            + config.beta * terms["kl"]
            + config.gamma * terms["cosine"]
        )
        return terms


@register_method
class RepBendMethod:
    name: ClassVar[str] = "repbend"
    kind: ClassVar[Literal["training"]] = "training"
    config_class: ClassVar[type[RepBendConfig]] = RepBendConfig

    def run(
        self,
        loaded: LoadedModel,
        data: TrainingData,
        out_dir: str | Path,
        config: RepBendConfig,
        *,
        progress: bool = True,
    ) -> MethodOutput:
        out = Path(out_dir)
        chat = chat_format(loaded, max_length=config.max_length)
        targets = target_slots(loaded.model, config.target_depths, config.target_layers)
        pad = loaded.tokenizer.pad_token_id
        loss = RepBendLoss(
            config,
            data,
            chat,
            int(pad if pad is not None else loaded.tokenizer.eos_token_id),
            targets,
        )
        result = train_lora(
            loaded,
            config,
            out,
            loss,
            lora=lora_config(loaded.model, config.lora),
            desc="RepBend",
            progress=progress,
        )
        final_kl, warnings = end_check(
            result.log_path, "kl", DIVERGED_KL,
            "RepBend diverged: the safe responses' KL ended at {value:.2f} nats per token (mean "
            "of the last {tail} steps; unsafe distance {unsafe:.3g}), so the benign behaviour is "
            "gone too; its push term is unbounded, so use a smaller learning rate or fewer steps",
            unsafe=final_term(result.log_path, "unsafe"))
        return saved_adapter_output(
            self.name, loaded, out, result,
            {"target_slots": targets, "final_safe_kl": final_kl, WARNINGS: warnings,
             "config": config.model_dump()},
        )
