"""The judge interface and the registry of judges by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from harc.errors import HarcError
from harc.registry import Registry


@dataclass(frozen=True)
class Verdict:
    """One judgement. ``None`` fields mean the judge could not or does not decide them."""

    refused: bool | None
    harmful: bool | None
    score: float | None
    judge: str
    rationale: str | None = None


@runtime_checkable
class Judge(Protocol):
    name: str

    def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Verdict]: ...


class UnknownJudgeError(HarcError):
    """No judge is registered under the requested name."""


_T = TypeVar("_T")
JUDGES: Registry[Callable[..., Any]] = Registry("judge", unknown=UnknownJudgeError)


def register_judge(name: str) -> Callable[[_T], _T]:
    """Class decorator: make a judge constructible as ``get_judge(name, **kwargs)``."""
    return JUDGES.register(name)  # type: ignore[return-value]


def available_judges() -> list[str]:
    return JUDGES.names()


def judge_factory(name: str) -> Callable[..., Any]:
    """The class (or factory) registered under ``name``."""
    return JUDGES.get(name)


def get_judge(name: str, **kwargs: Any) -> Judge:
    return judge_factory(name)(**kwargs)


def check_lengths(prompts: Sequence[str], responses: Sequence[str]) -> None:
    if len(prompts) != len(responses):
        raise HarcError(f"{len(prompts)} prompts but {len(responses)} responses")
