"""Preference pairs for DPO: built from the shared training data or read from a user's file.

From :class:`~harc.training.data.TrainingData`:

* harmful prompts: refusal ≻ harmful answer (prompts without a harmful answer are skipped);
* pseudo-harmful prompts: the compliant answer ≻ a refusal. The data holds no refusals for
  these prompts, so the refusal is :func:`~harc.training.supply.template_refusal` (the same
  deterministic short refusal self-supply falls back to).

A pair file is JSON Lines (one object a line) or a JSON list, each object with non-empty
string fields ``prompt``, ``chosen`` and ``rejected`` (an optional ``source`` is kept).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harc.errors import DataError
from harc.positions import ChatFormat
from harc.training.data import TrainingData
from harc.training.supply import template_refusal


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str
    source: str  # "harmful", "pseudo_harmful", or the file's own label ("file" by default)


def pairs_from_data(data: TrainingData, *, include_pseudo: bool = True) -> list[PreferencePair]:
    pairs = [
        PreferencePair(ex.prompt, ex.refusal, ex.harmful_answer, "harmful")
        for ex in data.harmful
        if ex.harmful_answer
    ]
    if include_pseudo:
        pairs += [
            PreferencePair(ex.prompt, ex.answer, template_refusal(ex.prompt), "pseudo_harmful")
            for ex in data.pseudo
        ]
    if not pairs:
        raise DataError(
            "no preference pairs: the harmful set has no harmful answers and no pseudo-harmful "
            "prompts were included; give a pair file instead"
        )
    return pairs


def read_pair_file(path: str | Path) -> list[PreferencePair]:
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: no such pair file")
    text = source.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except ValueError as error:
            raise DataError(f"{source}: not valid JSON ({error})") from error
        numbered = [(f"item {i}", record) for i, record in enumerate(records, 1)]
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                numbered.append((f"line {number}", json.loads(line)))
            except ValueError as error:
                raise DataError(f"{source}, line {number}: not valid JSON ({error})") from error
    pairs = [_pair(record, f"{source}, {where}") for where, record in numbered]
    if not pairs:
        raise DataError(f"{source}: no preference pairs")
    return pairs


def sample_pairs(
    pairs: Sequence[PreferencePair], max_pairs: int | None, seed: int
) -> list[PreferencePair]:
    """A seeded shuffle of ``pairs``, cut to ``max_pairs`` (never oversampled)."""
    shuffled = list(pairs)
    random.Random(f"{seed}:preference-pairs").shuffle(shuffled)
    return shuffled if max_pairs is None else shuffled[:max_pairs]


def formatted_prompt(chat: ChatFormat, prompt: str) -> str:
    """The chat-formatted prompt as text for a trainer that tokenizes it WITH special tokens
    (TRL does for plain-text prompts): a leading BOS the tokenizer adds itself is dropped
    from the text, so the tokens match :meth:`ChatFormat.encode` with no doubled BOS."""
    text = chat.format(prompt)
    tokenizer = chat.tokenizer
    bos = tokenizer.bos_token
    if bos and text.startswith(bos):
        ids = tokenizer("x")["input_ids"]
        if ids and ids[0] == tokenizer.bos_token_id:
            text = text[len(bos) :]
    return text


def trainer_rows(chat: ChatFormat, pairs: Sequence[PreferencePair]) -> list[dict[str, str]]:
    """Rows {prompt, chosen, rejected} in TRL's plain-text preference format."""
    return [
        {"prompt": formatted_prompt(chat, p.prompt), "chosen": p.chosen, "rejected": p.rejected}
        for p in pairs
    ]


def _pair(record: object, where: str) -> PreferencePair:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected an object with prompt, chosen, rejected")
    values = {}
    for key in ("prompt", "chosen", "rejected"):
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{where}: {key!r} must be a non-empty string")
        values[key] = value
    if values["chosen"] == values["rejected"]:
        raise DataError(f"{where}: chosen and rejected are identical")
    return PreferencePair(**values, source=str(record.get("source", "file")))
