"""Multiple-choice scoring by next-token logits: which answer letter the model would say next.

The letter token ids come from the tokenizer itself: the token it produces for " A" after the
anchor ("Answer:"); if the space is a token of its own, the prompt gets a trailing space and the
bare letters are compared; as a last resort the bare letters right after the anchor. Prompts are
run in length-sorted, left-padded batches (``harc.positions.collate``) with position ids from the
attention mask, one forward pass each, keeping only the last position's logits where the model
supports ``logits_to_keep``.

Prompts that share a long token prefix (k-shot prompts of one MMLU subject: the header and the
same worked examples, most of a ~730-token prompt on the embedded model) share its forward pass:
the prefix runs once into a key/value cache and each prompt runs only its own tail against a
copy of that cache. The tails are left-padded *after* the prefix (the attention mask hides the
padding) so the last position is every row's own. Same logits up to float rounding; 3.1x fewer
tokens for compare-full's 300 5-shot questions (~5 per subject; benchmarks/mmlu_prefix.py).
Models with sliding-window layers shorter than a prompt, and prompts whose prefix is shared by
no other prompt, take the plain path.
"""

from __future__ import annotations

import copy
import inspect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from harc.errors import HarcError
from harc.positions import EncodedPrompt, collate

LETTERS = ("A", "B", "C", "D")
ANCHOR = "Answer:"
# Prompts are grouped by their first SHARED_PREFIX_MIN tokens; a shorter shared prefix is not
# worth a cache copy per batch.
SHARED_PREFIX_MIN = 64


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
    share_prefixes: bool = True,
) -> torch.Tensor:
    """``[N, len(letter_ids)]`` next-token logits after each sequence, batched and left-padded;
    sequences with a common prefix of at least ``SHARED_PREFIX_MIN`` tokens share its forward
    pass (``share_prefixes``)."""
    index = torch.tensor(list(letter_ids), dtype=torch.long)
    out = torch.empty(len(sequences), len(letter_ids))
    plain = list(range(len(sequences)))
    if share_prefixes and _can_share(model, max(map(len, sequences), default=0)):
        groups, _ = prefix_groups(sequences)
        done = {row for rows, length in groups if _shared_prefix_rows(
            model, sequences, rows, length, out, index, pad_token_id, batch_size) for row in rows}
        plain = [row for row in plain if row not in done]
    _plain_rows(model, sequences, plain, out, index, pad_token_id, batch_size)
    return out


def prefix_groups(sequences: Sequence[list[int]]) -> tuple[list[tuple[list[int], int]], list[int]]:
    """The rows that share their first ``SHARED_PREFIX_MIN`` tokens with another row, as
    (rows, length of their common prefix) per group, and the other rows. Every row of a group
    keeps at least one token after the prefix: its last position is where the letter is read."""
    grouped: dict[tuple[int, ...], list[int]] = defaultdict(list)
    alone = []
    for row, ids in enumerate(sequences):
        if len(ids) > SHARED_PREFIX_MIN:
            grouped[tuple(ids[:SHARED_PREFIX_MIN])].append(row)
        else:
            alone.append(row)
    groups = []
    for rows in grouped.values():
        if len(rows) == 1:
            alone += rows
            continue
        members = [sequences[row] for row in rows]
        first, length = members[0], min(len(ids) for ids in members) - 1
        length = next((n for n in range(length) if any(ids[n] != first[n] for ids in members)),
                      length)
        groups.append((rows, length))
    return groups, sorted(alone)


def _can_share(model: Any, longest: int) -> bool:
    config = getattr(model, "config", None)
    window = getattr(config, "sliding_window", None)
    sliding = any("sliding" in str(kind) for kind in getattr(config, "layer_types", None) or ())
    return not (sliding and window is not None and longest > window)


def _plain_rows(model: Any, sequences: Sequence[list[int]], rows: list[int], out: torch.Tensor,
                index: torch.Tensor, pad_token_id: int, batch_size: int) -> None:
    device = _device(model)
    order = sorted(rows, key=lambda row: len(sequences[row]))
    for start in range(0, len(order), batch_size):
        batch_rows = order[start : start + batch_size]
        batch = collate(
            [
                EncodedPrompt(sequences[r], len(sequences[r]) - 1, len(sequences[r]) - 1)
                for r in batch_rows
            ],
            pad_token_id,
        )
        mask = batch.attention_mask.to(device)
        logits = model(
            input_ids=batch.input_ids.to(device),
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=False,
            **_last_only(model),
        ).logits
        out[torch.tensor(batch_rows)] = logits[:, -1, :].float().cpu().index_select(-1, index)


def _shared_prefix_rows(model: Any, sequences: Sequence[list[int]], rows: list[int],
                        length: int, out: torch.Tensor, index: torch.Tensor, pad_token_id: int,
                        batch_size: int) -> bool:
    """Fill ``out[rows]`` through one pass over their common prefix of ``length`` tokens;
    False (nothing done) when the model returns no key/value cache to reuse."""
    device = _device(model)
    prefix = torch.tensor([sequences[rows[0]][:length]], device=device)
    output = model(input_ids=prefix, attention_mask=torch.ones_like(prefix), use_cache=True,
                   **_last_only(model))
    # transformers renamed past_key_values to cache (5.2x); read and pass whichever it uses
    cache = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
    if not hasattr(cache, "batch_repeat_interleave"):
        return False
    cache_name = "cache" if "cache" in _forward_parameters(model) else "past_key_values"
    order = sorted(rows, key=lambda row: len(sequences[row]))
    for start in range(0, len(order), batch_size):
        batch_rows = order[start : start + batch_size]
        tails = collate([EncodedPrompt(sequences[r][length:], 0, 0) for r in batch_rows],
                        pad_token_id)
        tail_mask = tails.attention_mask.to(device)
        past = copy.deepcopy(cache)
        past.batch_repeat_interleave(len(batch_rows))
        logits = model(
            input_ids=tails.input_ids.to(device),
            attention_mask=torch.cat(
                [torch.ones(len(batch_rows), length, dtype=tail_mask.dtype, device=device),
                 tail_mask], dim=1),
            position_ids=length + (tail_mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
            **{cache_name: past},
            **_last_only(model),
        ).logits
        out[torch.tensor(batch_rows)] = logits[:, -1, :].float().cpu().index_select(-1, index)
    return True


def _last_only(model: Any) -> dict[str, Any]:
    return {"logits_to_keep": 1} if "logits_to_keep" in _forward_parameters(model) else {}


def _forward_parameters(model: Any) -> Mapping[str, Any]:
    """The keyword parameters of the underlying model's forward (a PeftModel passes them on)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inspect.signature(inner.forward).parameters


def _device(model: Any) -> torch.device:
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return param.device if param is not None else torch.device("cpu")
