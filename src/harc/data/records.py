"""Typed records produced by the data loaders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from harc.errors import DataError

PAIR_KINDS: tuple[str, ...] = ("refusal", "harmful", "helpful", "compliant")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Prompt:
    """One user instruction. ``source`` names the data set it came from."""

    text: str
    source: str
    category: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Pair:
    """A (prompt, response) pair for the response-side directions.

    ``kind`` is one of :data:`PAIR_KINDS`: ``refusal`` (harmful prompt, refusing answer),
    ``harmful`` (harmful prompt, complying harmful answer), ``helpful`` (harmless prompt,
    helpful answer) or ``compliant`` (pseudo-harmful prompt, compliant answer).
    """

    prompt: str
    response: str
    source: str
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in PAIR_KINDS:
            raise DataError(f"pair kind {self.kind!r} is not one of {', '.join(PAIR_KINDS)}")


@dataclass(frozen=True, slots=True)
class CircuitBreakersRecord:
    """One item of a Circuit-Breakers-style training file.

    ``output`` is the harmful (complying) answer and ``refusal`` the refusing answer
    (stored upstream as ``llama3_output``); either may be absent.
    """

    prompt: str
    output: str | None
    refusal: str | None
    category: str | None
    source: str

    def to_prompt(self) -> Prompt:
        return Prompt(text=self.prompt, source=self.source, category=self.category)

    def to_pairs(self) -> list[Pair]:
        """The record as ``harmful`` and ``refusal`` pairs, for whichever answers it has."""
        pairs = []
        if self.output:
            pairs.append(Pair(self.prompt, self.output, self.source, "harmful"))
        if self.refusal:
            pairs.append(Pair(self.prompt, self.refusal, self.source, "refusal"))
        return pairs


class Loaded(list[T], Generic[T]):
    """A list of loaded records that also says how many rows were left out, and why.

    ``dropped`` maps a reason (e.g. ``"contextual"``) to the number of rows skipped for it.
    Loaders never drop rows silently: every skip is counted here and logged as a warning.
    """

    def __init__(self, items: Iterable[T] = (), dropped: Mapping[str, int] | None = None) -> None:
        super().__init__(items)
        self.dropped: dict[str, int] = {k: v for k, v in (dropped or {}).items() if v}

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())
