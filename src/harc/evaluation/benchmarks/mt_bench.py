"""MT-Bench (Zheng et al. 2023): two-turn questions, single-answer grading 1-10 by a judge model.

Only runs with a judge (a Generator of a judge model); without one :func:`run` raises. As in
FastChat, turn 1 is graded with ``single-v1`` and turn 2 with ``single-v1-multi-turn``; for the
math, reasoning and coding categories the ``single-math-v1`` variants with the GPT-4 reference
answers are used (``use_reference=False`` grades everything with ``single-v1``). The judge's
system prompt is prepended to the user text (dropped when it is the generic "You are a helpful
assistant."), so any judge chat template works. The rating is the first ``[[x]]`` in the
judgment (else the first ``[x]``); a missing or out-of-range rating is invalid and not averaged.

Turn 2 needs the conversation so far, so it is formatted with the tokenizer's chat template
(``tokenizer=``, else the generator's ``tokenizer`` or ``chat.tokenizer`` attribute) and sent
through ``generator.generate_formatted``.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harc.errors import DataError, HarcError
from harc.evaluation.benchmarks.common import (
    BenchmarkResult,
    SampleRecord,
    TextGenerator,
    generate,
    generation_settings,
    mean_metric,
    require_items,
    resolve_file,
    subsample,
)
from harc.evaluation.benchmarks.common import (
    data_root as resolve_root,
)
from harc.evaluation.benchmarks.readers import read_jsonl, require, take

REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding"})
GENERIC_SYSTEM = "You are a helpful assistant."
_RATING = (re.compile(r"\[\[(\d+\.?\d*)\]\]"), re.compile(r"\[(\d+\.?\d*)\]"))


@dataclass(frozen=True)
class MTBenchQuestion:
    question_id: int
    category: str
    turns: tuple[str, str]
    reference: tuple[str, ...] | None = None


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    system_prompt: str
    template: str

    def render(self, **fields: str) -> str:
        body = self.template.format(**fields)
        return body if self.system_prompt.strip() == GENERIC_SYSTEM else self.system_prompt + body


def mt_bench_dir(
    path: str | os.PathLike[str] | None = None, data_root: str | os.PathLike[str] | None = None
) -> Path:
    """The folder holding question.jsonl, judge_prompts.jsonl and reference_answer/gpt-4.jsonl."""
    directory = Path(path) if path is not None else resolve_root(data_root) / "mt_bench"
    if not directory.is_dir():
        raise DataError(f"{directory}: MT-Bench directory not found")
    return directory


def load_mt_bench(
    path: str | os.PathLike[str] | None = None, *, data_root: str | os.PathLike[str] | None = None
) -> list[MTBenchQuestion]:
    """Questions, with the GPT-4 reference answers attached where the reference file has them."""
    directory = mt_bench_dir(path, data_root)
    file = resolve_file("", directory / "question.jsonl")
    reference_file = directory / "reference_answer" / "gpt-4.jsonl"
    references = _load_references(reference_file) if reference_file.exists() else {}
    questions = []
    for where, row in require(read_jsonl(file), file):
        turns = take(file, where, row, "turns", list)
        qid = take(file, where, row, "question_id", int)
        if len(turns) != 2 or not all(isinstance(t, str) and t.strip() for t in turns):
            raise DataError(f"{file}, {where}: expected two non-empty turns")
        questions.append(
            MTBenchQuestion(
                qid, take(file, where, row, "category"), (turns[0], turns[1]), references.get(qid)
            )
        )
    return questions


def _load_references(path: Path) -> dict[int, tuple[str, ...]]:
    file = resolve_file("", path)
    references = {}
    for where, row in require(read_jsonl(file), file):
        choices = take(file, where, row, "choices", list)
        turns = choices[0].get("turns") if isinstance(choices[0], dict) else None
        if not isinstance(turns, list) or not turns:
            raise DataError(f"{file}, {where}: choices[0].turns missing")
        references[take(file, where, row, "question_id", int)] = tuple(str(t) for t in turns)
    return references


def load_judge_prompts(
    path: str | os.PathLike[str] | None = None, *, data_root: str | os.PathLike[str] | None = None
) -> dict[str, JudgePrompt]:
    file = resolve_file("", mt_bench_dir(path, data_root) / "judge_prompts.jsonl")
    prompts = {}
    for where, row in require(read_jsonl(file), file):
        name = take(file, where, row, "name")
        prompts[name] = JudgePrompt(
            name, take(file, where, row, "system_prompt"), take(file, where, row, "prompt_template")
        )
    return prompts


def parse_rating(judgment: str) -> float | None:
    for pattern in _RATING:
        match = pattern.search(judgment)
        if match:
            rating = float(match.group(1))
            return rating if 1.0 <= rating <= 10.0 else None
    return None


def judge_requests(
    question: MTBenchQuestion,
    answers: Sequence[str],
    prompts: dict[str, JudgePrompt],
    use_reference: bool = True,
) -> tuple[str, str]:
    """The judge's user texts for turn 1 and turn 2."""
    q1, q2 = question.turns
    a1, a2 = answers
    if use_reference and question.category in REFERENCE_CATEGORIES:
        if not question.reference or len(question.reference) < 2:
            raise DataError(
                f"MT-Bench question {question.question_id}: no reference answer for "
                f"category {question.category!r} (pass use_reference=False to grade without)"
            )
        r1, r2 = question.reference[:2]
        return (
            _prompt(prompts, "single-math-v1").render(question=q1, answer=a1, ref_answer_1=r1),
            _prompt(prompts, "single-math-v1-multi-turn").render(
                question_1=q1,
                question_2=q2,
                answer_1=a1,
                answer_2=a2,
                ref_answer_1=r1,
                ref_answer_2=r2,
            ),
        )
    return (
        _prompt(prompts, "single-v1").render(question=q1, answer=a1),
        _prompt(prompts, "single-v1-multi-turn").render(
            question_1=q1, question_2=q2, answer_1=a1, answer_2=a2
        ),
    )


def _prompt(prompts: dict[str, JudgePrompt], name: str) -> JudgePrompt:
    if name not in prompts:
        raise DataError(f"judge prompt {name!r} missing from the judge prompt file")
    return prompts[name]


def conversation_formatter(
    generator: Any, tokenizer: Any = None
) -> Callable[[list[dict[str, str]]], str]:
    tokenizer = (
        tokenizer
        or getattr(generator, "tokenizer", None)
        or getattr(getattr(generator, "chat", None), "tokenizer", None)
    )
    if tokenizer is None or not hasattr(generator, "generate_formatted"):
        raise HarcError(
            "MT-Bench turn 2 needs a generator with generate_formatted() and a tokenizer "
            "with a chat template (pass tokenizer=)"
        )
    return lambda messages: tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )


def run(
    generator: TextGenerator,
    *,
    judge: TextGenerator | None = None,
    tokenizer: Any = None,
    use_reference: bool = True,
    limit: int | None = None,
    seed: int = 0,
    settings: Any = None,
    judge_settings: Any = None,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    if judge is None:
        raise HarcError(
            "MT-Bench needs a judge model: pass judge=<Generator of the judge model> "
            "(single-answer grading 1-10 cannot be done without one)"
        )
    questions = subsample(load_mt_bench(path, data_root=data_root), limit, seed)
    require_items(questions, "mt_bench")
    prompts = load_judge_prompts(path, data_root=data_root)
    format_conversation = conversation_formatter(generator, tokenizer)
    settings = generation_settings(settings, 1024)
    first = generate(generator, [q.turns[0] for q in questions], settings)
    texts = [
        format_conversation(
            [
                {"role": "user", "content": q.turns[0]},
                {"role": "assistant", "content": a},
                {"role": "user", "content": q.turns[1]},
            ]
        )
        for q, a in zip(questions, first, strict=True)
    ]
    second = list(generator.generate_formatted(texts, settings))  # type: ignore[attr-defined]
    if len(second) != len(texts):
        raise HarcError(f"generator returned {len(second)} outputs for {len(texts)} prompts")
    requests = [
        judge_requests(q, (a1, a2), prompts, use_reference)
        for q, a1, a2 in zip(questions, first, second, strict=True)
    ]
    judgments = generate(
        judge, [r for pair in requests for r in pair], generation_settings(judge_settings, 512)
    )
    return _result(
        questions,
        (first, second),
        judgments,
        {"limit": limit, "seed": seed, "use_reference": use_reference},
    )


def _result(
    questions: Sequence[MTBenchQuestion],
    answers: tuple[Sequence[str], Sequence[str]],
    judgments: Sequence[str],
    config: dict[str, Any],
) -> BenchmarkResult:
    samples, by_turn, by_category = [], defaultdict(list), defaultdict(list)
    for index, question in enumerate(questions):
        for turn in (0, 1):
            judgment = judgments[2 * index + turn]
            rating = parse_rating(judgment)
            if rating is not None:
                by_turn[turn].append(rating)
                by_category[question.category].append(rating)
            samples.append(
                SampleRecord(
                    prompt=question.turns[turn],
                    output=answers[turn][index],
                    score=rating,
                    verdict="rated" if rating is not None else "invalid_rating",
                    meta={
                        "question_id": question.question_id,
                        "category": question.category,
                        "turn": turn + 1,
                        "judgment": judgment,
                    },
                )
            )
    invalid = sum(1 for sample in samples if sample.score is None)
    return BenchmarkResult(
        benchmark="mt_bench",
        primary="score",
        metrics={
            "score": mean_metric(by_turn[0] + by_turn[1]),
            "turn_1": mean_metric(by_turn[0]),
            "turn_2": mean_metric(by_turn[1]),
        },
        samples=samples,
        breakdown={"category": {c: mean_metric(v) for c, v in sorted(by_category.items())}},
        config={**config, "invalid_ratings": invalid},
        notes=[f"{invalid} judgments had no valid [[rating]] and are excluded"] if invalid else [],
    )
