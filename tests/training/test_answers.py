from __future__ import annotations

import json
from pathlib import Path

import pytest

from harc.errors import DataError
from harc.training.answers import AnswerResolver, file_answers
from harc.training.config import DataSettings
from harc.training.supply import SuppliedAnswer


class RefusingSupplier:
    """Supplies refusals; every prompt in ``refused`` gets no answer (the judge disagreed)."""

    def __init__(self, refused: set[str]) -> None:
        self.refused = refused
        self.asked: list[str] = []

    def refusals(self, prompts):
        self.asked.extend(prompts)
        return {p: SuppliedAnswer(p, "No.", "refusal", "model") for p in prompts
                if p not in self.refused}


def _settings(tmp_path: Path, **overrides) -> DataSettings:
    path = tmp_path / "harmful.txt"
    path.write_text("a\nb\n")
    return DataSettings(harmful=str(path), **overrides)


def test_file_answers_first_answer_wins_and_pairs_follow_circuit_breakers(tmp_path):
    cb = tmp_path / "cb.json"
    cb.write_text(json.dumps([
        {"prompt": " p1 ", "output": "harm 1", "llama3_output": "refuse 1"},
        {"prompt": "p1", "output": "harm 1 again", "llama3_output": "refuse 1 again"},
    ]))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        json.dumps({"prompt": "p1", "response": "pair refusal", "kind": "refusal"}) + "\n"
        + json.dumps({"prompt": "p2", "response": "pair help", "kind": "helpful"}) + "\n"
    )
    counts: dict[str, int] = {}
    answers = file_answers(
        _settings(tmp_path, circuit_breakers=str(cb), pairs=str(pairs)), counts
    )
    assert answers["refusal"] == {"p1": ("refuse 1", "circuit_breakers")}
    assert answers["harmful"] == {"p1": ("harm 1", "circuit_breakers")}
    assert answers["helpful"] == {"p2": ("pair help", "pairs")}
    assert answers["compliant"] == {}
    assert counts == {"circuit_breakers_records": 2, "pairs_records": 2}


def test_resolver_supplies_only_missing_answers_and_counts_drops(tmp_path):
    supplier = RefusingSupplier(refused={"c"})
    counts: dict[str, int] = {}
    resolver = AnswerResolver(_settings(tmp_path), supplier, counts)  # type: ignore[arg-type]
    found = resolver.answers(
        ["a", "b", "c"], {"a": ("given", "pairs")}, "refusal", "harmful", required=True
    )
    assert supplier.asked == ["b", "c"]
    assert found == {"a": ("given", "pairs"), "b": ("No.", "model")}
    assert counts == {"refusal_from_pairs": 1, "refusal_from_model": 1,
                      "refusal_refused_dropped": 1}


def test_resolver_without_supply_names_the_gap(tmp_path):
    counts: dict[str, int] = {}
    resolver = AnswerResolver(_settings(tmp_path, self_supply=False), None, counts)
    with pytest.raises(DataError, match=r"lacks refusal answers for 1 of 2.*self_supply is off"):
        resolver.answers(["a", "b"], {"a": ("x", "pairs")}, "refusal", "harmful", required=True)
    # an optional kind may be partly missing: counted, not raised
    found = resolver.answers(
        ["a", "b"], {"a": ("x", "pairs")}, "harmful_answer", "harmful", required=False
    )
    assert found == {"a": ("x", "pairs")}
    assert counts["harmful_answer_missing"] == 1
