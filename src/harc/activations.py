"""Residual-stream capture at chosen positions, with hooks that are always removed.

Slot ``L`` (0..n-1) is the hidden state entering decoder block ``L``; slot ``n`` is the state
leaving the last block (before the final norm). Only the requested positions are kept: per
batch we store ``[batch, slots, hidden]`` rather than whole sequences, and the forward pass is
stopped right after the deepest requested slot so the LM head is never computed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from tqdm.auto import tqdm

from harc.models import hooks
from harc.models.blocks import find_decoder_blocks
from harc.models.hooks import StopForward
from harc.positions import Batch, ChatFormat, EncodedPrompt, collate

Position = Literal["t_inst", "t_post"]
Reducer = Callable[[torch.Tensor, Batch], torch.Tensor]  # [B, T, D] -> [B, D]


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    """What to keep from each forward pass: named reducers applied at each slot."""

    reducers: dict[str, Reducer]
    slots: tuple[int, ...]


def at_position(name: Position) -> Reducer:
    def reduce(hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        index = getattr(batch, name).to(hidden.device)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]

    return reduce


def response_mean(first_k: int) -> Reducer:
    """Mean over the first ``first_k`` response tokens (fewer when the response is shorter)."""

    def reduce(hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        mask = response_window(batch.response_mask, first_k).to(hidden.device, hidden.dtype)
        counts = mask.sum(dim=1, keepdim=True).clamp_min(1.0)
        return (hidden * mask.unsqueeze(-1)).sum(dim=1) / counts

    return reduce


def response_window(response_mask: torch.Tensor, first_k: int) -> torch.Tensor:
    """Mask of the first ``first_k`` tokens of each row's response span."""
    running = response_mask.cumsum(dim=1)
    return (response_mask.bool() & (running <= first_k)).long()


def residual_hooks(
    model: nn.Module,
    slots: Sequence[int],
    on_capture: Callable[[int, torch.Tensor], None],
    *,
    stop_after_deepest: bool = True,
) -> AbstractContextManager[None]:
    """Call ``on_capture(slot, hidden)`` for each slot during forward passes inside the block
    (:func:`harc.models.hooks.residual_hooks`, read only). With ``stop_after_deepest`` the
    forward pass is abandoned after the deepest slot (catch :class:`StopForward` around the
    forward call, as :func:`capture` does)."""
    return hooks.residual_hooks(
        model, {slot: functools.partial(_observe, on_capture, slot) for slot in slots},
        stop_after_deepest=stop_after_deepest)


def _observe(on_capture: Callable[[int, torch.Tensor], None], slot: int,
             hidden: torch.Tensor) -> None:
    on_capture(slot, hidden)


@torch.inference_mode()
def capture(
    model: nn.Module,
    encodings: Sequence[EncodedPrompt],
    spec: CaptureSpec,
    *,
    pad_token_id: int,
    batch_size: int = 8,
    desc: str = "capturing",
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """Run ``encodings`` through ``model``; returns ``{name: [N, len(slots), hidden]}`` on CPU."""
    if not encodings:
        raise ValueError("cannot capture activations of an empty prompt set")
    device = next(model.parameters()).device
    # Length-sorted batches waste less padding; results are put back in input order.
    order = sorted(range(len(encodings)), key=lambda index: len(encodings[index].input_ids))
    slot_index = {slot: column for column, slot in enumerate(spec.slots)}
    outputs: dict[str, torch.Tensor] = {}
    current: dict[str, torch.Tensor] = {}
    batch: Batch | None = None

    def on_capture(slot: int, hidden: torch.Tensor) -> None:
        assert batch is not None
        for name, reduce in spec.reducers.items():
            current[name][:, slot_index[slot]] = reduce(hidden, batch).float().cpu()

    with residual_hooks(model, spec.slots, on_capture):
        bar = tqdm(total=len(order), desc=desc, disable=not progress, leave=False)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = collate([encodings[row] for row in rows], pad_token_id)
            current = {}
            for name in spec.reducers:
                current[name] = torch.empty(len(rows), len(spec.slots), _hidden_size(model))
            batch_on_device = batch.to(device)
            with suppress(StopForward):
                model(
                    input_ids=batch_on_device.input_ids,
                    attention_mask=batch_on_device.attention_mask,
                    use_cache=False,
                )
            for name, values in current.items():
                if name not in outputs:
                    outputs[name] = torch.empty(len(encodings), len(spec.slots), values.shape[-1])
                outputs[name][torch.tensor(rows)] = values
            bar.update(len(rows))
        bar.close()
    return outputs


def capture_prompts(
    model: nn.Module,
    chat: ChatFormat,
    prompts: Sequence[str],
    *,
    positions: Sequence[Position] = ("t_inst", "t_post"),
    slots: Sequence[int] | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """Residuals at ``positions`` for each prompt: ``{position: [N, slots, hidden]}``."""
    encodings = [chat.encode(text) for text in prompts]
    spec = CaptureSpec({name: at_position(name) for name in positions}, _slots(model, slots))
    return capture(
        model,
        encodings,
        spec,
        pad_token_id=_pad_id(chat),
        batch_size=batch_size,
        desc="prompt residuals",
        progress=progress,
    )


def capture_responses(
    model: nn.Module,
    chat: ChatFormat,
    pairs: Sequence[tuple[str, str]],
    *,
    first_k: int = 32,
    slots: Sequence[int] | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> torch.Tensor:
    """Mean residual over the first ``first_k`` response tokens of each (prompt, response)."""
    encodings = [chat.encode_pair(prompt, response) for prompt, response in pairs]
    # Tokens past the window cannot affect it (causal attention), so they are dropped up front.
    encodings = [
        EncodedPrompt(
            item.input_ids[: item.response_start + first_k],
            item.t_inst,
            item.t_post,
            item.response_start,
        )
        for item in encodings
    ]
    spec = CaptureSpec({"response": response_mean(first_k)}, _slots(model, slots))
    return capture(
        model,
        encodings,
        spec,
        pad_token_id=_pad_id(chat),
        batch_size=batch_size,
        desc="response residuals",
        progress=progress,
    )["response"]


def all_slots(model: nn.Module) -> tuple[int, ...]:
    return tuple(range(len(find_decoder_blocks(model)) + 1))


def _slots(model: nn.Module, slots: Sequence[int] | None) -> tuple[int, ...]:
    return all_slots(model) if slots is None else tuple(slots)


def _hidden_size(model: nn.Module) -> int:
    config = model.config
    text_config = getattr(config, "text_config", None) or config
    return int(text_config.hidden_size)


def _pad_id(chat: ChatFormat) -> int:
    tokenizer = chat.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ValueError("tokenizer has neither a pad nor an eos token")
    return int(pad)
