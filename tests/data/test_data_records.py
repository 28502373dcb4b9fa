from __future__ import annotations

import dataclasses

import pytest

from harc.data import PAIR_KINDS, CircuitBreakersRecord, Loaded, Pair, Prompt
from harc.errors import DataError


def test_prompt_is_frozen_with_optional_fields() -> None:
    prompt = Prompt("Write a poem", "test")
    assert prompt.category is None and prompt.id is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        prompt.text = "other"  # type: ignore[misc]


@pytest.mark.parametrize("kind", PAIR_KINDS)
def test_pair_accepts_known_kinds(kind: str) -> None:
    assert Pair("p", "r", "test", kind).kind == kind


def test_pair_rejects_unknown_kind() -> None:
    with pytest.raises(DataError, match="pair kind 'bogus'"):
        Pair("p", "r", "test", "bogus")


def test_circuit_breakers_record_to_pairs_and_prompt() -> None:
    record = CircuitBreakersRecord("How to X?", "Sure, X", "I can't help", "crime", "cb")
    pairs = record.to_pairs()
    assert [p.kind for p in pairs] == ["harmful", "refusal"]
    assert pairs[0].response == "Sure, X" and pairs[1].response == "I can't help"
    assert record.to_prompt() == Prompt("How to X?", "cb", "crime")
    assert CircuitBreakersRecord("q", None, None, None, "cb").to_pairs() == []


def test_loaded_keeps_nonzero_drop_counts() -> None:
    loaded = Loaded([1, 2], {"contextual": 3, "copyright": 0})
    assert loaded == [1, 2]
    assert loaded.dropped == {"contextual": 3}
    assert loaded.n_dropped == 3
    assert Loaded([]).n_dropped == 0
