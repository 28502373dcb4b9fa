"""One HARC micro-batch: a single tuned forward pass (plus a no-grad reference pass for KL)
that yields every loss term.

Rows of the batch, in order:
- ``refusal`` rows: harmful prompt + refusal. Prompt coupling (harmful), refusal CE, and the
  response coupling when ``response_coupling_on == "refusal"``.
- ``harmful_answer`` rows: harmful prompt + harmful answer, response coupling (harmful) only.
- ``retain`` rows: harmless / pseudo-harmful prompt + answer. Prompt and response coupling
  (retain) and KL(base || tuned) on the answer tokens.

Residuals are kept only at the selected layers (hooks on those blocks); logits only for the
last ``R + 1`` columns, where R is the longest response (left padding right-aligns responses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from harc.activations import residual_hooks, response_window
from harc.directions.direction_set import DirectionSet
from harc.positions import Batch, ChatFormat, collate
from harc.training.losses import (
    coupling_hinge,
    direction_cosine,
    next_token_cross_entropy,
    token_mean_kl,
)

ROLE_REFUSAL, ROLE_HARMFUL_ANSWER, ROLE_RETAIN = 0, 1, 2


@dataclass
class StepBatch:
    batch: Batch
    roles: torch.Tensor  # [rows] of ROLE_*

    @property
    def logit_columns(self) -> int:
        return int(self.batch.response_mask.sum(dim=1).max()) + 1


def build_step_batch(
    chat: ChatFormat,
    refusals: Sequence[tuple[str, str]],
    harmful_answers: Sequence[tuple[str, str]],
    retain: Sequence[tuple[str, str]],
    pad_token_id: int,
) -> StepBatch:
    rows = [(pair, ROLE_REFUSAL) for pair in refusals]
    rows += [(pair, ROLE_HARMFUL_ANSWER) for pair in harmful_answers]
    rows += [(pair, ROLE_RETAIN) for pair in retain]
    # The refusal is a full answer, so it ends with EOS: CE also teaches the model to stop.
    encodings = [
        chat.encode_pair(prompt, response, append_eos=role == ROLE_REFUSAL)
        for (prompt, response), role in rows
    ]
    roles = torch.tensor([role for _, role in rows], dtype=torch.long)
    return StepBatch(collate(encodings, pad_token_id), roles)


@dataclass(frozen=True)
class LossSettings:
    margin: float
    response_tokens: int
    response_coupling_on: str  # "harmful_answer" | "refusal"


def compute_losses(
    model: nn.Module,
    step_batch: StepBatch,
    directions: DirectionSet,
    slots: Sequence[int],
    settings: LossSettings,
    *,
    reference_logits: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """All four HARC terms for one micro-batch. ``reference_logits`` are the base model's logits
    for the retain rows over the same kept columns (see :func:`reference_logits_for`)."""
    batch = step_batch.batch
    roles = step_batch.roles.to(batch.input_ids.device)
    columns = step_batch.logit_columns
    captured: dict[int, torch.Tensor] = {}
    with residual_hooks(model, slots, captured.__setitem__, stop_after_deepest=False):
        output = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            logits_to_keep=columns,
            use_cache=False,
        )
    # [B, T, layers, D]. In float32 from here: the response-window mean and the cosines sum
    # hundreds of values, which bf16's 8-bit mantissa would round; the model itself stays in
    # its dtype, and the KL and CE take float32 log-softmaxes (losses.py).
    hidden = torch.stack([captured[slot] for slot in slots], dim=2).float()
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    window = response_window(batch.response_mask, settings.response_tokens).to(hidden.dtype)
    response_mean = (hidden * window[:, :, None, None]).sum(1) / window.sum(1).clamp_min(1)[
        :, None, None
    ]
    index = torch.tensor(list(slots), device=hidden.device)
    v_harm, v_ref = (
        directions.harm.to(hidden.device)[index],
        directions.refusal.to(hidden.device)[index],
    )

    prompt_rows = roles != ROLE_HARMFUL_ANSWER
    response_role = (
        ROLE_HARMFUL_ANSWER if settings.response_coupling_on == "harmful_answer" else ROLE_REFUSAL
    )
    response_rows = (roles == response_role) | (roles == ROLE_RETAIN)
    is_harmful = roles != ROLE_RETAIN
    terms = {
        "couple": coupling_hinge(
            direction_cosine(hidden[rows, batch.t_post][prompt_rows], v_ref),
            direction_cosine(hidden[rows, batch.t_inst][prompt_rows], v_harm),
            is_harmful[prompt_rows],
            settings.margin,
        ),
    }
    if directions.has_response:
        assert directions.harm_resp is not None and directions.refusal_resp is not None
        terms["couple_resp"] = coupling_hinge(
            direction_cosine(
                response_mean[response_rows], directions.refusal_resp.to(hidden.device)[index]
            ),
            direction_cosine(
                response_mean[response_rows], directions.harm_resp.to(hidden.device)[index]
            ),
            is_harmful[response_rows],
            settings.margin,
        )
    logits = output.logits[:, :-1]  # logit at column c predicts the token at column c + 1
    targets = batch.input_ids[:, -columns + 1 :]
    target_mask = batch.response_mask[:, -columns + 1 :]
    refusal_rows = roles == ROLE_REFUSAL
    terms["ce"] = next_token_cross_entropy(
        logits[refusal_rows], targets[refusal_rows], target_mask[refusal_rows]
    )
    retain_rows = roles == ROLE_RETAIN
    if reference_logits is None:
        terms["kl"] = logits.sum() * 0.0
    else:
        terms["kl"] = token_mean_kl(
            reference_logits[:, :-1], logits[retain_rows], target_mask[retain_rows]
        )
    return terms


@torch.no_grad()
def reference_logits_for(model: nn.Module, step_batch: StepBatch) -> torch.Tensor | None:
    """Base-model logits for the retain rows: the same weights with the LoRA adapter disabled
    (PEFT's ``disable_adapter``), so no second copy of the model is ever held."""
    batch = step_batch.batch
    retain_rows = step_batch.roles == ROLE_RETAIN
    if not bool(retain_rows.any()):
        return None
    with model.disable_adapter():
        output = model(
            input_ids=batch.input_ids[retain_rows.to(batch.input_ids.device)],
            attention_mask=batch.attention_mask[retain_rows.to(batch.input_ids.device)],
            logits_to_keep=step_batch.logit_columns,
            use_cache=False,
        )
    return output.logits.detach()
