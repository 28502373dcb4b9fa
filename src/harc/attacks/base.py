"""The attack interface: an attack turns harmful goals into prompts for a target model."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class AttackedPrompt:
    goal: str
    prompt: str
    attack: str
    meta: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Attack(Protocol):
    name: str

    def apply(self, goals: Sequence[str], *, seed: int = 0) -> list[AttackedPrompt]: ...


class TemplateAttack:
    """A single-shot attack that substitutes the goal into one fixed ``{goal}`` template."""

    name = "template"
    template = "{goal}"

    def render(self, goal: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
        return self.template.format(goal=goal), {}

    def apply(self, goals: Sequence[str], *, seed: int = 0) -> list[AttackedPrompt]:
        results = []
        for goal in check_goals(goals):
            prompt, meta = self.render(goal, goal_rng(seed, goal, self.name))
            results.append(AttackedPrompt(goal, prompt, self.name, {"seed": seed, **meta}))
        return results


def check_goals(goals: Sequence[str]) -> list[str]:
    """Goals as a list; a bare string or an empty goal is a caller bug, so it raises."""
    if isinstance(goals, str):
        raise TypeError("apply() takes a sequence of goals, not a single string")
    cleaned = []
    for index, goal in enumerate(goals):
        if not isinstance(goal, str) or not goal.strip():
            raise ValueError(f"goal {index} is empty or not a string: {goal!r}")
        cleaned.append(goal.strip())
    return cleaned


def goal_rng(seed: int, goal: str, salt: str = "") -> random.Random:
    """A random stream fixed by (seed, goal, salt): stable across processes and batch orders."""
    digest = hashlib.sha256(f"{seed}\x00{salt}\x00{goal}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def as_clause(goal: str) -> str:
    """The goal as a clause to embed mid-sentence: lower-case first letter, no final period."""
    text = goal.strip().rstrip(".!?").rstrip()
    if text[:1].isupper() and not text[1:2].isupper() and not text.startswith(("I ", "I'")):
        text = text[0].lower() + text[1:]
    return text
