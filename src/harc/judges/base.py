"""The judge interface and the registry of judges by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from harc.errors import HarcError


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
_REGISTRY: dict[str, Callable[..., Any]] = {}


def register_judge(name: str) -> Callable[[_T], _T]:
    """Class decorator: make a judge constructible as ``get_judge(name, **kwargs)``."""

    def decorate(factory: _T) -> _T:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise HarcError(f"a judge named {name!r} is already registered")
        _REGISTRY[name] = factory  # type: ignore[assignment]
        return factory

    return decorate


def available_judges() -> list[str]:
    return sorted(_REGISTRY)


def judge_factory(name: str) -> Callable[..., Any]:
    """The class (or factory) registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownJudgeError(
            f"unknown judge {name!r}; available judges: {', '.join(available_judges())}"
        ) from None


def get_judge(name: str, **kwargs: Any) -> Judge:
    return judge_factory(name)(**kwargs)


def check_lengths(prompts: Sequence[str], responses: Sequence[str]) -> None:
    if len(prompts) != len(responses):
        raise HarcError(f"{len(prompts)} prompts but {len(responses)} responses")
