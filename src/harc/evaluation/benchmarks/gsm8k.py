"""GSM8K (Cobbe et al. 2021): chat-formatted zero-shot generation, exact match on the final number.

The model is asked to reason step by step and end with ``The answer is N``. The prediction is,
in order of preference: the number after the last ``#### ``, the number after the last
``answer is``, or the last number in the output. Numbers may carry thousands commas, a ``$``,
a sign or decimals; they are compared as exact decimals (``18.00`` matches ``18``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from harc.errors import DataError
from harc.evaluation.benchmarks.common import (
    BenchmarkResult,
    SampleRecord,
    TextGenerator,
    generate,
    generation_settings,
    proportion,
    require_items,
    resolve_file,
    subsample,
)
from harc.evaluation.benchmarks.readers import read_jsonl, require, take

INSTRUCTION = (
    "Solve the following math problem step by step. "
    "End your response with 'The answer is N', where N is the final number.\n\n"
)
_NUMBER = re.compile(r"(?<![\w.])[-−]?\$?[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_MARKERS = (re.compile(r"####"), re.compile(r"answer is", re.IGNORECASE))


@dataclass(frozen=True)
class GSM8KItem:
    index: int
    question: str
    solution: str
    target: str


def load_gsm8k(
    path: str | os.PathLike[str] | None = None, *, data_root: str | os.PathLike[str] | None = None
) -> list[GSM8KItem]:
    file = resolve_file("gsm8k/test.jsonl", path, data_root)
    items = []
    for index, (where, row) in enumerate(require(read_jsonl(file), file)):
        question = take(file, where, row, "question")
        solution = take(file, where, row, "answer")
        if "####" not in solution:
            raise DataError(f"{file}, {where}: answer has no '#### N' final answer")
        target = normalize_number(solution.rsplit("####", 1)[1])
        if target is None:
            raise DataError(f"{file}, {where}: no number after '####'")
        items.append(GSM8KItem(index, question, solution, target))
    return items


def normalize_number(text: str) -> str | None:
    """The first number in ``text`` as a canonical decimal (``"-1,234.50"`` -> ``"-1234.5"``)."""
    match = _NUMBER.search(text)
    return _canonical(match.group(0)) if match else None


def _canonical(raw: str) -> str | None:
    cleaned = re.sub(r"[\s$,]", "", raw).replace("−", "-")
    negative = cleaned.count("-") % 2 == 1
    try:
        value = Decimal(cleaned.replace("-", ""))
    except InvalidOperation:
        return None
    value = -value if negative else value
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def extract_final_number(output: str) -> str | None:
    """The final answer: after the last ``####``, else after ``answer is``, else the last number."""
    for marker in _MARKERS:
        hits = list(marker.finditer(output))
        if hits:
            found = normalize_number(output[hits[-1].end() :])
            if found is not None:
                return found
    numbers = _NUMBER.findall(output)
    return _canonical(numbers[-1]) if numbers else None


def is_correct(output: str, target: str) -> bool:
    predicted = extract_final_number(output)
    return predicted is not None and Decimal(predicted) == Decimal(target)


def build_prompt(item: GSM8KItem) -> str:
    return INSTRUCTION + item.question.strip()


def run(
    generator: TextGenerator,
    *,
    limit: int | None = None,
    seed: int = 0,
    settings: Any = None,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    items = subsample(load_gsm8k(path, data_root=data_root), limit, seed)
    require_items(items, "gsm8k")
    prompts = [build_prompt(item) for item in items]
    outputs = generate(generator, prompts, generation_settings(settings, 512))
    samples = []
    for item, prompt, output in zip(items, prompts, outputs, strict=True):
        predicted = extract_final_number(output)
        correct = predicted is not None and Decimal(predicted) == Decimal(item.target)
        samples.append(
            SampleRecord(
                prompt=prompt,
                output=output,
                score=float(correct),
                verdict="correct" if correct else "wrong",
                meta={"index": item.index, "target": item.target, "predicted": predicted},
            )
        )
    correct_total = sum(s.score or 0.0 for s in samples)
    return BenchmarkResult(
        benchmark="gsm8k",
        primary="exact_match",
        metrics={"exact_match": proportion(correct_total, len(samples))},
        samples=samples,
        config={"limit": limit, "seed": seed, "instruction": INSTRUCTION.strip()},
    )
