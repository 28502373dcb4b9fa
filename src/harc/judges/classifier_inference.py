"""Running a judge's model in batches: left padding, last-position two-way scores, greedy text."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from transformers import GenerationConfig

from harc.errors import HarcError


def model_device(model: Any) -> torch.device:
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    return next(model.parameters()).device


def pad_token_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id
    if pad is None:
        raise HarcError("the judge's tokenizer has neither a pad nor an eos token to pad with")
    return int(pad)


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        if not row:
            raise HarcError("a judge input has no tokens")
        input_ids[index, width - len(row) :] = torch.tensor(list(row), dtype=torch.long)
        mask[index, width - len(row) :] = 1
    return input_ids, mask


def _batches(rows: Sequence[Sequence[int]], batch_size: int) -> Iterable[list[int]]:
    """Index batches, longest inputs first, so each batch pads little."""
    if batch_size < 1:
        raise HarcError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(rows)), key=lambda index: -len(rows[index]))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


@torch.inference_mode()
def two_way_scores(
    model: Any,
    rows: Sequence[Sequence[int]],
    token_ids: tuple[int, int],
    *,
    pad_id: int,
    batch_size: int,
) -> list[tuple[float, float]]:
    """For each input: (p_a / (p_a + p_b), p_a + p_b), from the next-token distribution at the
    last position, where a, b = ``token_ids``. The ratio is the softmax of the two logits
    (exactly p_a / (p_a + p_b), without underflow); NaN logits give NaN."""
    device = model_device(model)
    index = torch.tensor(token_ids, device=device)
    out: list[tuple[float, float]] = [(math.nan, math.nan)] * len(rows)
    for batch in _batches(rows, batch_size):
        input_ids, mask = left_pad([rows[i] for i in batch], pad_id)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = (
            model(
                input_ids=input_ids.to(device),
                attention_mask=mask.to(device),
                position_ids=positions.to(device),
            )
            .logits[:, -1, :]
            .float()
        )
        pair = logits[:, index]
        ratio = torch.softmax(pair, dim=-1)[:, 0]
        mass = torch.exp(torch.logsumexp(pair, -1) - torch.logsumexp(logits, -1))
        for row, score, total in zip(batch, ratio.tolist(), mass.tolist(), strict=True):
            out[row] = (score, total)
    return out


@torch.inference_mode()
def greedy_generate(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Sequence[int]],
    *,
    pad_id: int,
    stop_ids: Sequence[int],
    max_new_tokens: int,
    batch_size: int,
) -> list[str]:
    """Greedy continuations of token-id inputs (only the new text, cut at a stop token)."""
    device = model_device(model)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        repetition_penalty=1.0,
        eos_token_id=list(stop_ids) or None,
        pad_token_id=pad_id,
        use_cache=True,
    )
    stops = set(stop_ids)
    out = [""] * len(rows)
    for batch in _batches(rows, batch_size):
        input_ids, mask = left_pad([rows[i] for i in batch], pad_id)
        generated = model.generate(
            input_ids=input_ids.to(device), attention_mask=mask.to(device), generation_config=config
        )
        for row, new in zip(batch, generated[:, input_ids.shape[1] :].tolist(), strict=True):
            end = next((i for i, token in enumerate(new) if token in stops), len(new))
            out[row] = str(tokenizer.decode(new[:end], skip_special_tokens=True))
    return out
