"""Fakes for harc.generation.Generator and harc.judges judges."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeGenerator:
    """Stands in for harc.generation.Generator: answers each prompt with ``reply(prompt)``."""

    reply: Callable[[str], str]
    calls: list[list[str]] = field(default_factory=list)
    settings: list[Any] = field(default_factory=list)

    def generate(self, prompts: Sequence[str], settings: Any = None) -> list[str]:
        self.calls.append(list(prompts))
        self.settings.append(settings)
        return [self.reply(prompt) for prompt in prompts]


@dataclass(frozen=True)
class FakeVerdict:
    refused: bool | None
    harmful: bool | None
    score: float | None
    judge: str = "fake"
    rationale: str | None = None


@dataclass
class FakeJudge:
    """Scores a response by ``score(goal, response)``; harmful when the score reaches 1."""

    score: Callable[[str, str], float]
    name: str = "fake"
    calls: list[tuple[list[str], list[str]]] = field(default_factory=list)

    def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[FakeVerdict]:
        self.calls.append((list(prompts), list(responses)))
        verdicts = []
        for prompt, response in zip(prompts, responses, strict=True):
            value = self.score(prompt, response)
            verdicts.append(FakeVerdict(value < 0.5, value >= 1.0, value))
        return verdicts
