"""MMLU (Hendrycks et al. 2021): k-shot multiple choice scored by next-token log-likelihood.

Prompt format is lm-eval-harness's (and the original paper's): raw text, no chat template::

    The following are multiple choice questions (with answers) about <subject>.

    <dev question>\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer: B

    <test question>\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer:

One forward pass per question; the prediction is the letter whose token has the highest
next-token logit after ``Answer:`` (all other vocabulary entries are ignored). The letter token
ids are found from the tokenizer itself: the token it produces for " A" after "Answer:" (or "A"
after "Answer: " when the space is a token of its own, or "A" with no space as a last resort).
``chat=True`` (or a ChatFormat) instead sends everything but ``Answer:`` as the user turn of the
chat template and appends ``Answer:`` after the generation prompt.

Data: ``<root>/mmlu/{dev,test}/<subject>_{dev,test}.csv`` with the header
``question,choice0,choice1,choice2,choice3,answer``, ``answer`` a 0-based index or a letter.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harc.errors import DataError, HarcError
from harc.evaluation.benchmarks.choice_logits import (
    ANCHOR,
    LETTERS,
    LetterTokens,
    encode_text,
    letter_logits,
    letter_token_ids,
    pick_choice,
)
from harc.evaluation.benchmarks.common import (
    BenchmarkResult,
    SampleRecord,
    data_root,
    proportion,
    require_items,
    subsample,
)
from harc.evaluation.benchmarks.readers import read_csv, require, take
from harc.positions import ChatFormat

_COLUMNS = ("question", "choice0", "choice1", "choice2", "choice3", "answer")


@dataclass(frozen=True)
class MMLUItem:
    subject: str
    question: str
    choices: tuple[str, str, str, str]
    answer: int
    row: int


def mmlu_dir(
    path: str | os.PathLike[str] | None = None, root: str | os.PathLike[str] | None = None
) -> Path:
    directory = Path(path) if path is not None else data_root(root) / "mmlu"
    if not directory.is_dir():
        raise DataError(f"{directory}: MMLU directory not found")
    return directory


def list_subjects(
    split: str = "test",
    *,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> list[str]:
    folder = mmlu_dir(path, data_root) / split
    subjects = sorted(p.name.removesuffix(f"_{split}.csv") for p in folder.glob(f"*_{split}.csv"))
    if not subjects:
        raise DataError(f"{folder}: no <subject>_{split}.csv files")
    return subjects


def load_mmlu(
    split: str = "test",
    *,
    subjects: Sequence[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> list[MMLUItem]:
    """All items of ``split`` for ``subjects`` (default: every subject), in subject order."""
    directory = mmlu_dir(path, data_root)
    names = list(subjects) if subjects is not None else list_subjects(split, path=directory)
    items: list[MMLUItem] = []
    for subject in names:
        items.extend(_load_subject(directory / split / f"{subject}_{split}.csv", subject))
    return items


def _load_subject(file: Path, subject: str) -> list[MMLUItem]:
    if not file.is_file():
        raise DataError(f"{file}: file not found (unknown MMLU subject {subject!r}?)")
    items = []
    for number, (where, row) in enumerate(require(read_csv(file), file), 1):
        values = [take(file, where, row, column) for column in _COLUMNS[:5]]
        items.append(
            MMLUItem(subject, values[0], tuple(values[1:]), _answer(file, where, row), number)
        )
    return items


def _answer(file: Path, where: str, row: dict[str, Any]) -> int:
    raw = str(row.get("answer", "")).strip()
    if raw.upper() in LETTERS:
        return LETTERS.index(raw.upper())
    if raw.isdigit() and int(raw) < len(LETTERS):
        return int(raw)
    raise DataError(f"{file}, {where}: answer must be 0-3 or A-D, got {raw!r}")


def format_question(item: MMLUItem, *, with_answer: bool) -> str:
    lines = [item.question.strip()]
    lines += [f"{letter}. {choice}" for letter, choice in zip(LETTERS, item.choices, strict=True)]
    lines.append(f"{ANCHOR} {LETTERS[item.answer]}" if with_answer else ANCHOR)
    return "\n".join(lines)


def build_prompt(item: MMLUItem, shots: Sequence[MMLUItem]) -> str:
    """The k-shot prompt, ending in ``Answer:``."""
    subject = item.subject.replace("_", " ")
    header = f"The following are multiple choice questions (with answers) about {subject}.\n\n"
    examples = "".join(format_question(shot, with_answer=True) + "\n\n" for shot in shots)
    return header + examples + format_question(item, with_answer=False)


def run(
    model: Any,
    tokenizer: Any,
    *,
    k_shot: int = 5,
    subjects: Sequence[str] | None = None,
    per_subject_limit: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    batch_size: int = 8,
    chat: bool | ChatFormat = False,
    max_length: int | None = None,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    """k-shot MMLU accuracy. Shots are the first ``k_shot`` dev items of the same subject (all
    of them if the dev file is shorter); a prompt longer than ``max_length`` tokens drops shots
    from the end until it fits, then keeps only its last ``max_length`` tokens."""
    if k_shot < 0:
        raise HarcError(f"k_shot must be >= 0, got {k_shot}")
    directory = mmlu_dir(path, data_root)
    items = load_mmlu("test", subjects=subjects, path=directory)
    if per_subject_limit is not None:
        grouped: dict[str, list[MMLUItem]] = defaultdict(list)
        for item in items:
            grouped[item.subject].append(item)
        items = [i for group in grouped.values() for i in subsample(group, per_subject_limit, seed)]
    items = subsample(items, limit, seed)
    require_items(items, directory)
    shots = {
        s: load_mmlu("dev", subjects=[s], path=directory)[:k_shot] if k_shot else []
        for s in dict.fromkeys(item.subject for item in items)
    }
    chat_format = ChatFormat(tokenizer) if chat is True else (chat or None)
    letters = letter_token_ids(tokenizer)
    sequences, used = zip(
        *(
            _encode_item(item, shots[item.subject], tokenizer, chat_format, letters, max_length)
            for item in items
        ),
        strict=True,
    )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    logits = letter_logits(
        model, sequences, letters.ids, pad_token_id=int(pad or 0), batch_size=batch_size
    )
    return _result(
        items,
        logits,
        used,
        letters,
        config={
            "k_shot": k_shot,
            "chat": chat_format is not None,
            "subjects": sorted(shots),
            "per_subject_limit": per_subject_limit,
            "limit": limit,
            "seed": seed,
            "letter_token_variant": letters.variant,
            "max_length": max_length,
        },
    )


def _encode_item(
    item: MMLUItem,
    shots: Sequence[MMLUItem],
    tokenizer: Any,
    chat: ChatFormat | None,
    letters: LetterTokens,
    max_length: int | None,
) -> tuple[list[int], int]:
    for k in range(len(shots), -1, -1):
        text = build_prompt(item, shots[:k])
        if chat is not None:
            text = chat.format(text.removesuffix(ANCHOR)) + ANCHOR
        ids = encode_text(tokenizer, text + letters.prompt_suffix, special=chat is None)
        if max_length is None or len(ids) <= max_length:
            return ids, k
    return ids[-max_length:], 0


def _result(
    items: Sequence[MMLUItem],
    logits: torch.Tensor,
    shots_used: Sequence[int],
    letters: LetterTokens,
    config: dict[str, Any],
) -> BenchmarkResult:
    samples: list[SampleRecord] = []
    by_subject: dict[str, list[int]] = defaultdict(list)
    for item, row, k in zip(items, logits.tolist(), shots_used, strict=True):
        predicted = pick_choice(row)
        correct = int(predicted == item.answer)
        by_subject[item.subject].append(correct)
        samples.append(
            SampleRecord(
                prompt=format_question(item, with_answer=False),
                output=LETTERS[predicted],
                score=float(correct),
                verdict="correct" if correct else "wrong",
                meta={
                    "subject": item.subject,
                    "row": item.row,
                    "answer": LETTERS[item.answer],
                    "letter_logits": [round(v, 4) for v in row],
                    "shots": k,
                },
            )
        )
    total = sum(s.score or 0.0 for s in samples)
    return BenchmarkResult(
        benchmark="mmlu",
        primary="accuracy",
        metrics={"accuracy": proportion(total, len(samples))},
        samples=samples,
        breakdown={"subject": {s: proportion(sum(v), len(v)) for s, v in by_subject.items()}},
        config={**config, "letter_token_ids": list(letters.ids)},
    )
