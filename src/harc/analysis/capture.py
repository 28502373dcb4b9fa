"""One forward pass per (prompt, answer): prompt positions at a few slots, answer tokens at one.

The answer's per-token residuals are kept at ONE slot only (``token_slot``) and for at most
``max_tokens`` answer tokens; ``t_inst``/``t_post`` residuals (2 vectors per prompt) at
``position_slots``. Hooks sit on the needed decoder blocks only and the pass stops after the
deepest one, so no logits and never all layers x all tokens are computed or kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from harc.activations import residual_hooks
from harc.analysis.errors import AnalysisError
from harc.models import find_decoder_blocks
from harc.models.hooks import StopForward
from harc.positions import ChatFormat, EncodedPrompt, collate


@dataclass
class PairCapture:
    """``t_inst``/``t_post``: [N, len(position_slots), D]; ``tokens[i]``: [T_i, D] at
    ``token_slot`` for the first T_i <= max_tokens answer tokens (T_i = 0 for an empty answer)."""

    t_inst: torch.Tensor
    t_post: torch.Tensor
    position_slots: tuple[int, ...]
    tokens: list[torch.Tensor]
    token_slot: int


def encode_answer(
    chat: ChatFormat, prompt: str, answer: str, max_tokens: int
) -> EncodedPrompt:
    """The formatted prompt followed by the first ``max_tokens`` tokens of ``answer``."""
    encoded = chat.encode(prompt)
    answer_ids = chat.tokenizer(answer, add_special_tokens=False)["input_ids"][:max_tokens]
    return EncodedPrompt(encoded.input_ids + list(answer_ids), encoded.t_inst, encoded.t_post,
                         response_start=len(encoded.input_ids))


@torch.inference_mode()
def capture_pairs(
    model: nn.Module, chat: ChatFormat, pairs: Sequence[tuple[str, str]], *, token_slot: int,
    position_slots: Sequence[int] = (), max_tokens: int = 32, batch_size: int = 8,
    progress: bool = True,
) -> PairCapture:
    if not pairs:
        raise AnalysisError("no (prompt, answer) pairs to capture")
    if max_tokens < 1:
        raise AnalysisError(f"max_tokens must be >= 1, got {max_tokens}")
    blocks = find_decoder_blocks(model)
    n_blocks = len(blocks)
    positions = tuple(position_slots)
    wanted = sorted({*positions, token_slot})
    if wanted[0] < 0 or wanted[-1] > n_blocks:
        raise AnalysisError(f"slots must lie in 0..{n_blocks}, got {wanted}")
    encodings = [encode_answer(chat, p, a, max_tokens) for p, a in pairs]
    hidden_size = _hidden_size(model)
    t_inst = torch.zeros(len(pairs), len(positions), hidden_size)
    t_post = torch.zeros_like(t_inst)
    tokens: list[torch.Tensor] = [torch.empty(0)] * len(pairs)
    state: dict[str, object] = {}

    def on_hidden(slot: int, hidden: torch.Tensor) -> None:
        rows: list[int] = state["rows"]  # type: ignore[assignment]
        batch = state["batch"]
        index = torch.arange(hidden.shape[0], device=hidden.device)
        if slot in positions:
            column = positions.index(slot)
            t_inst[rows, column] = hidden[index, batch.t_inst.to(hidden.device)].float().cpu()
            t_post[rows, column] = hidden[index, batch.t_post.to(hidden.device)].float().cpu()
        if slot == token_slot:
            width = hidden.shape[1]
            for offset, row in enumerate(rows):
                length = encodings[row].response_length
                tokens[row] = hidden[offset, width - length:].float().cpu().clone()

    with residual_hooks(model, wanted, on_hidden, stop_after_deepest=True):
        device = next(model.parameters()).device
        order = sorted(range(len(encodings)), key=lambda row: len(encodings[row].input_ids))
        for start in tqdm(range(0, len(order), batch_size), desc="answer residuals",
                          disable=not progress, leave=False):
            rows = order[start:start + batch_size]
            batch = collate([encodings[row] for row in rows], _pad_id(chat))
            state.update(rows=rows, batch=batch)
            with suppress(StopForward):
                model(input_ids=batch.input_ids.to(device),
                      attention_mask=batch.attention_mask.to(device), use_cache=False)
    return PairCapture(t_inst, t_post, positions, tokens, token_slot)


def _hidden_size(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    config = getattr(config, "text_config", None) or config
    size = getattr(config, "hidden_size", None)
    if not isinstance(size, int) or size <= 0:
        raise AnalysisError("the model config has no hidden_size")
    return size


def _pad_id(chat: ChatFormat) -> int:
    tokenizer = chat.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise AnalysisError("tokenizer has neither a pad nor an eos token")
    return int(pad)
