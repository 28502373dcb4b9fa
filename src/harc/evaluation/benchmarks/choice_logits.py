"""Multiple-choice scoring by next-token logits: which answer letter the model would say next.

The letter token ids come from the tokenizer itself: the token it produces for " A" after the
anchor ("Answer:"); if the space is a token of its own, the prompt gets a trailing space and the
bare letters are compared; as a last resort the bare letters right after the anchor. Prompts are
run in length-sorted, left-padded batches (``harc.positions.collate``) with position ids from the
attention mask, one forward pass each, keeping only the last position's logits where the model
supports ``logits_to_keep``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from harc.errors import HarcError
from harc.positions import EncodedPrompt, collate

LETTERS = ("A", "B", "C", "D")
ANCHOR = "Answer:"


@dataclass(frozen=True)
class LetterTokens:
    ids: tuple[int, ...]
    prompt_suffix: str  # appended after "Answer:" so the next token is the letter
    variant: str  # "space", "space-split" or "no-space"


def letter_token_ids(
    tokenizer: Any, anchor: str = ANCHOR, letters: Sequence[str] = LETTERS
) -> LetterTokens:
    """The token ids the tokenizer gives each letter when it follows ``anchor``."""
    base = encode_text(tokenizer, anchor)

    def tail(text: str) -> list[int] | None:
        ids = encode_text(tokenizer, text)
        return ids[len(base) :] if ids[: len(base)] == base else None

    spaced = [tail(f"{anchor} {letter}") for letter in letters]
    if all(t is not None and len(t) == 1 for t in spaced):
        return _distinct(tuple(t[0] for t in spaced), "", "space", tokenizer)  # type: ignore[index]
    space_only = tail(f"{anchor} ")
    if (
        space_only is not None
        and len(space_only) == 1
        and all(t is not None and len(t) == 2 and t[0] == space_only[0] for t in spaced)
    ):
        return _distinct(tuple(t[1] for t in spaced), " ", "space-split", tokenizer)  # type: ignore[index]
    bare = [tail(f"{anchor}{letter}") for letter in letters]
    if all(t is not None and len(t) == 1 for t in bare):
        return _distinct(tuple(t[0] for t in bare), "", "no-space", tokenizer)  # type: ignore[index]
    raise HarcError(
        f"{type(tokenizer).__name__}: the answer letters are not single tokens after {anchor!r}"
    )


def _distinct(ids: tuple[int, ...], suffix: str, variant: str, tokenizer: Any) -> LetterTokens:
    if len(set(ids)) != len(ids):
        raise HarcError(f"{type(tokenizer).__name__}: answer letters share a token id ({ids})")
    return LetterTokens(ids, suffix, variant)


def encode_text(tokenizer: Any, text: str, special: bool = False) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def pick_choice(scores: Sequence[float]) -> int:
    """Index of the highest score (the first one on ties)."""
    return max(range(len(scores)), key=lambda index: (scores[index], -index))


@torch.inference_mode()
def letter_logits(
    model: Any,
    sequences: Sequence[list[int]],
    letter_ids: Sequence[int],
    *,
    pad_token_id: int,
    batch_size: int = 8,
) -> torch.Tensor:
    """``[N, len(letter_ids)]`` next-token logits after each sequence, batched and left-padded."""
    device = _device(model)
    keep_last = "logits_to_keep" in inspect.signature(model.forward).parameters
    index = torch.tensor(list(letter_ids), dtype=torch.long)
    out = torch.empty(len(sequences), len(letter_ids))
    order = sorted(range(len(sequences)), key=lambda row: len(sequences[row]))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = collate(
            [
                EncodedPrompt(sequences[r], len(sequences[r]) - 1, len(sequences[r]) - 1)
                for r in rows
            ],
            pad_token_id,
        )
        mask = batch.attention_mask.to(device)
        kwargs: dict[str, Any] = {"logits_to_keep": 1} if keep_last else {}
        logits = model(
            input_ids=batch.input_ids.to(device),
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=False,
            **kwargs,
        ).logits
        out[torch.tensor(rows)] = logits[:, -1, :].float().cpu().index_select(-1, index)
    return out


def _device(model: Any) -> torch.device:
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return param.device if param is not None else torch.device("cpu")
