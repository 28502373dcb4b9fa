"""Registry of the capability and over-refusal benchmarks.

``get_benchmark(name)`` returns a :class:`BenchmarkSpec` whose ``load`` and ``run`` import the
benchmark module on first use. ``inputs`` says what ``run`` takes first: ``"model"`` means
``run(model, tokenizer, ...)`` (log-likelihood scoring), ``"generator"`` means
``run(generator, ...)``; ``needs_judge`` marks benchmarks that also require ``judge=``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal

from harc.registry import Registry


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    kind: Literal["capability", "over_refusal"]
    inputs: Literal["model", "generator"]
    module: str
    loader: str
    description: str
    needs_judge: bool = False

    @property
    def load(self) -> Callable[..., list[Any]]:
        return getattr(import_module(self.module), self.loader)

    @property
    def run(self) -> Callable[..., Any]:
        return import_module(self.module).run


_PACKAGE = "harc.evaluation.benchmarks"
_SPECS = (
    BenchmarkSpec(
        "mmlu",
        "capability",
        "model",
        f"{_PACKAGE}.mmlu",
        "load_mmlu",
        "MMLU k-shot multiple choice, next-token log-likelihood of A-D; accuracy",
    ),
    BenchmarkSpec(
        "gsm8k",
        "capability",
        "generator",
        f"{_PACKAGE}.gsm8k",
        "load_gsm8k",
        "GSM8K grade-school maths, final-number exact match",
    ),
    BenchmarkSpec(
        "humaneval",
        "capability",
        "generator",
        f"{_PACKAGE}.humaneval",
        "load_humaneval",
        "HumanEval Python functions, sandboxed tests; pass@1 (greedy)",
    ),
    BenchmarkSpec(
        "ifeval",
        "capability",
        "generator",
        f"{_PACKAGE}.ifeval",
        "load_ifeval",
        "IFEval verifiable instructions; prompt/instruction-level accuracy, strict and loose",
    ),
    BenchmarkSpec(
        "mt_bench",
        "capability",
        "generator",
        f"{_PACKAGE}.mt_bench",
        "load_mt_bench",
        "MT-Bench two-turn questions graded 1-10 by a judge model",
        needs_judge=True,
    ),
    BenchmarkSpec(
        "xstest",
        "over_refusal",
        "generator",
        f"{_PACKAGE}.xstest",
        "load_xstest",
        "XSTest safe prompts; full / partial refusal rate (lower is better)",
    ),
    BenchmarkSpec(
        "coconot_contrast",
        "over_refusal",
        "generator",
        f"{_PACKAGE}.coconot_contrast",
        "load_coconot_contrast",
        "CoCoNot contrast prompts that should be answered; keyword-judge refusal rate",
    ),
    BenchmarkSpec(
        "or_bench",
        "over_refusal",
        "generator",
        f"{_PACKAGE}.or_bench",
        "load_prompt_table",
        "Any table of should-answer prompts (e.g. OR-Bench); full / partial refusal rate",
    ),
    BenchmarkSpec(
        "prompt_set",
        "over_refusal",
        "generator",
        f"{_PACKAGE}.prompt_set",
        "load_prompt_set",
        "Any load_prompts set that should be answered (source=...); refusal rate",
    ),
)
BENCHMARKS: Registry[BenchmarkSpec] = Registry("benchmark")
for _spec in _SPECS:
    BENCHMARKS.add(_spec.name, _spec)


def available_benchmarks(kind: str | None = None) -> list[str]:
    return BENCHMARKS.names(lambda spec: kind is None or spec.kind == kind)


def get_benchmark(name: str) -> BenchmarkSpec:
    return BENCHMARKS.get(name)
