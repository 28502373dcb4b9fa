"""Residual representations for the representation-engineering baselines (circuit breakers,
RepBend): target layers by relative depth, batches of (prompt, response) rows, the tuned
model's hidden states (with gradient) and the original model's (the same weights with the
LoRA adapter disabled, so no second copy of the model is held).

Slots follow :mod:`harc.activations`: slot ``L`` is the hidden state entering decoder block
``L``, which is ``hidden_states[L]`` in Hugging Face's ``output_hidden_states`` numbering.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Literal

import torch
from peft import PeftModel

from harc.activations import residual_hooks
from harc.models.blocks import find_decoder_blocks
from harc.models.hooks import StopForward
from harc.positions import Batch, ChatFormat, collate

TokenSet = Literal["all", "response"]


def target_slots(
    model: torch.nn.Module, depths: Sequence[float], layers: Sequence[int] | None = None
) -> list[int]:
    """``layers`` when given, else ``round(depth * n_blocks)`` for each relative depth (the
    circuit-breaker paper's layers 10 and 20 of 32 are depths 0.3125 and 0.625)."""
    n_blocks = len(find_decoder_blocks(model))
    if layers is not None:
        slots = sorted(set(layers))
        if not slots or slots[0] < 1 or slots[-1] > n_blocks:
            raise ValueError(f"target layers must lie in 1..{n_blocks}, got {list(layers)}")
        return slots
    return sorted({min(n_blocks, max(1, round(depth * n_blocks))) for depth in depths})


@dataclass
class RowBatch:
    """A left-padded batch and which rows belong to which group (e.g. reroute vs retain)."""

    batch: Batch
    groups: torch.Tensor  # [rows] integer group ids

    @property
    def logit_columns(self) -> int:
        return int(self.batch.response_mask.sum(dim=1).max()) + 1

    def token_mask(self, tokens: TokenSet) -> torch.Tensor:
        """``all``: every real token (prompt and response); ``response``: response tokens."""
        source = self.batch.attention_mask if tokens == "all" else self.batch.response_mask
        return source.bool()


def encode_rows(
    chat: ChatFormat, rows: Sequence[tuple[str, str, int]], pad_token_id: int
) -> RowBatch:
    """``rows`` of (prompt, response, group id); no EOS is appended (no token loss here)."""
    encodings = [chat.encode_pair(prompt, response) for prompt, response, _ in rows]
    groups = torch.tensor([group for _, _, group in rows], dtype=torch.long)
    return RowBatch(collate(encodings, pad_token_id), groups)


@dataclass
class Forward:
    hidden: torch.Tensor  # [rows, T, slots, D]
    logits: torch.Tensor | None  # [rows, logit_columns, vocab] when asked for


def forward_hidden(
    model: torch.nn.Module, rows: RowBatch, slots: Sequence[int], *, with_logits: bool = False
) -> Forward:
    """Hidden states at ``slots`` (stacked in the given order). Without logits the forward pass
    stops after the deepest slot, so later blocks and the LM head never run."""
    captured: dict[int, torch.Tensor] = {}
    batch = rows.batch
    output = None
    with (
        residual_hooks(model, slots, captured.__setitem__, stop_after_deepest=not with_logits),
        suppress(StopForward),
    ):
        output = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            logits_to_keep=rows.logit_columns if with_logits else 1,
            use_cache=False,
        )
    hidden = torch.stack([captured[slot] for slot in slots], dim=2)
    return Forward(hidden, output.logits if with_logits and output is not None else None)


@torch.no_grad()
def original_forward(
    model: PeftModel, rows: RowBatch, slots: Sequence[int], *, with_logits: bool = False
) -> Forward:
    """:func:`forward_hidden` of the original model: the adapter disabled, no gradient."""
    with model.disable_adapter():
        found = forward_hidden(model, rows, slots, with_logits=with_logits)
    return Forward(found.hidden.detach(), None if found.logits is None else found.logits.detach())


def masked_token_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` ``[rows, T, slots]`` over the masked (row, token) pairs and all slots;
    0 (with gradient) when nothing is masked."""
    if not bool(mask.any()):
        return values.sum() * 0.0
    return values[mask].mean()
