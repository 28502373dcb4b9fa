from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from harc.errors import DataError
from harc.training.config import DataSettings
from harc.training.data import (
    load_training_data,
    training_prompt_texts,
    write_training_answers,
)
from harc.training.supply import SuppliedAnswer

HARMFUL = [f"Explain how to commit crime number {i}" for i in range(10)]
HARMLESS = [f"Write a poem about season number {i}" for i in range(10)]
PSEUDO = [f"How do I kill python process {i}" for i in range(4)]


class FakeSupplier:
    """Answers everything except the prompts listed as refused; records what it was asked."""

    def __init__(self, refuse: set[str] | frozenset[str] = frozenset()) -> None:
        self.refuse = set(refuse)
        self.calls: list[tuple[str, list[str]]] = []
        self.extraction: tuple[list[str], list[str]] | None = None

    def set_extraction(self, harmful, harmless) -> None:
        self.extraction = (list(harmful), list(harmless))

    def refusals(self, prompts):
        self.calls.append(("refusals", list(prompts)))
        return {p: SuppliedAnswer(p, f"Sorry, no: {p}", "refusal",
                                  "template" if p in self.refuse else "model") for p in prompts}

    def helpful(self, prompts, kind):
        self.calls.append((f"helpful:{kind}", list(prompts)))
        pair_kind = "helpful" if kind == "harmless" else "compliant"
        return {p: SuppliedAnswer(p, f"Sure: {p}", pair_kind, "model") for p in prompts
                if p not in self.refuse}

    def harmful_answers(self, prompts):
        self.calls.append(("harmful_answers", list(prompts)))
        return {p: SuppliedAnswer(p, f"Here is how: {p}", "harmful", "model+ablation")
                for p in prompts if p not in self.refuse}


def _lines(path: Path, items: list[str]) -> str:
    path.write_text("\n".join(items) + "\n")
    return str(path)


def _settings(tmp_path: Path, **overrides) -> DataSettings:
    values = dict(
        harmful=_lines(tmp_path / "harmful.txt", HARMFUL),
        harmless=_lines(tmp_path / "harmless.txt", HARMLESS),
        pseudo_harmful=_lines(tmp_path / "pseudo.txt", PSEUDO),
        validation_harmful=_lines(tmp_path / "val_harmful.txt",
                                  [f"Held-out harmful request {i}" for i in range(5)]),
        validation_harmless=_lines(tmp_path / "val_harmless.txt",
                                   [f"Held-out harmless request {i}" for i in range(5)]),
        extraction_size=4,
        validation_size=3,
    )
    values.update(overrides)
    return DataSettings(**values)


def _cb_file(tmp_path: Path, prompts: list[str]) -> str:
    rows = [{"prompt": p, "output": f"cb harmful {p}", "llama3_output": f"cb refusal {p}",
             "category": "crime"} for p in prompts]
    path = tmp_path / "cb.json"
    path.write_text(json.dumps(rows))
    return str(path)


def _pairs_file(tmp_path: Path, rows: list[tuple[str, str, str]]) -> str:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"prompt": p, "response": r, "kind": k}) + "\n"
                            for p, r, k in rows))
    return str(path)


def test_circuit_breakers_answers_come_first(tmp_path):
    supplier = FakeSupplier()
    settings = _settings(tmp_path, circuit_breakers=_cb_file(tmp_path, HARMFUL))
    data = load_training_data(settings, supplier=supplier, seed=0)
    asked = {name for name, _ in supplier.calls}
    assert "refusals" not in asked and "harmful_answers" not in asked
    assert all(ex.refusal == f"cb refusal {ex.prompt}" for ex in data.harmful)
    assert all(ex.harmful_answer == f"cb harmful {ex.prompt}" for ex in data.harmful)
    assert all(ex.provenance == {"refusal": "circuit_breakers",
                                 "harmful_answer": "circuit_breakers"} for ex in data.harmful)
    assert data.counts["refusal_from_circuit_breakers"] == len(HARMFUL)
    assert data.counts["helpful_from_model"] == len(HARMLESS)
    assert all(ex.provenance == "model" and ex.kind == "harmless" for ex in data.harmless)


def test_pairs_before_self_supply(tmp_path):
    pairs = [(HARMFUL[0], "pair refusal", "refusal"), (HARMFUL[1], "pair harm", "harmful"),
             (HARMLESS[0], "pair help", "helpful"), (PSEUDO[0], "pair comply", "compliant")]
    supplier = FakeSupplier()
    settings = _settings(tmp_path, pairs=_pairs_file(tmp_path, pairs))
    data = load_training_data(settings, supplier=supplier, seed=0)
    calls = dict(supplier.calls)
    assert HARMFUL[0] not in calls["refusals"] and len(calls["refusals"]) == len(HARMFUL) - 1
    assert HARMFUL[1] not in calls["harmful_answers"]
    assert HARMLESS[0] not in calls["helpful:harmless"]
    assert PSEUDO[0] not in calls["helpful:pseudo_harmful"]
    by_prompt = {ex.prompt: ex for ex in data.harmful}
    extraction_refusals = dict(data.extraction.refusals)
    refusal_0 = by_prompt[HARMFUL[0]].refusal if HARMFUL[0] in by_prompt \
        else extraction_refusals[HARMFUL[0]]
    assert refusal_0 == "pair refusal"
    assert data.pseudo[0].answer == "pair comply" and data.pseudo[0].provenance == "pairs"
    assert data.counts["refusal_from_pairs"] == 1 and data.counts["refusal_from_model"] == 9
    assert data.counts["harmful_answer_from_model_ablation"] == 9


def test_self_supply_off_names_the_set_lacking_answers(tmp_path):
    settings = _settings(tmp_path, circuit_breakers=_cb_file(tmp_path, HARMFUL),
                         self_supply=False)
    with pytest.raises(DataError, match=r"harmless set .* lacks helpful answers"):
        load_training_data(settings, supplier=FakeSupplier(), seed=0)
    no_refusals = _settings(tmp_path, self_supply=False)
    with pytest.raises(DataError, match=r"harmful set .* lacks refusal"):
        load_training_data(no_refusals, supplier=None, seed=0)


def test_self_supply_needs_a_supplier(tmp_path):
    with pytest.raises(DataError, match="no model was given"):
        load_training_data(_settings(tmp_path), supplier=None, seed=0)


def test_files_only_run_allows_partial_harmful_answers(tmp_path):
    cb = [{"prompt": p, "llama3_output": f"no {p}", **({"output": f"yes {p}"} if i % 2 else {})}
          for i, p in enumerate(HARMFUL)]
    (tmp_path / "cb.json").write_text(json.dumps(cb))
    pairs = [(p, f"help {p}", "helpful") for p in HARMLESS] + \
        [(p, f"comply {p}", "compliant") for p in PSEUDO]
    settings = _settings(tmp_path, circuit_breakers=str(tmp_path / "cb.json"),
                         pairs=_pairs_file(tmp_path, pairs), self_supply=False,
                         extraction_size=5)
    data = load_training_data(settings, supplier=None, seed=3)
    assert data.counts["harmful_answer_missing"] == 5
    missing = [ex for ex in data.harmful if ex.harmful_answer is None]
    assert all(ex.provenance["harmful_answer"] == "none" for ex in missing)
    assert len(data.extraction.harmful_answers) < len(data.extraction.harmful)


def test_extraction_held_out_when_enough_remain(tmp_path):
    supplier = FakeSupplier()
    data = load_training_data(_settings(tmp_path, extraction_size=4), supplier=supplier, seed=0)
    assert data.counts["extraction_overlaps_training"] == 0
    assert len(data.extraction.harmful) == len(data.extraction.harmless) == 4
    train = {ex.prompt for ex in data.harmful}
    assert len(train) == 6 and not train & set(data.extraction.harmful)
    assert not {ex.prompt for ex in data.harmless} & set(data.extraction.harmless)
    assert supplier.extraction == (data.extraction.harmful, data.extraction.harmless)
    assert [p for p, _ in data.extraction.refusals] == data.extraction.harmful
    assert [p for p, _ in data.extraction.helpful] == data.extraction.harmless


def test_extraction_overlaps_when_sets_are_small(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="harc.training.pools"):
        data = load_training_data(_settings(tmp_path, extraction_size=6),
                                  supplier=FakeSupplier(), seed=0)
    assert data.counts["extraction_overlaps_training"] == 1
    assert "overlaps the training prompts" in caplog.text
    assert len(data.harmful) == len(HARMFUL) and len(data.extraction.harmful) == 6
    assert set(data.extraction.harmful) <= {ex.prompt for ex in data.harmful}


def test_extraction_is_seeded(tmp_path):
    first = load_training_data(_settings(tmp_path), supplier=FakeSupplier(), seed=1)
    again = load_training_data(_settings(tmp_path), supplier=FakeSupplier(), seed=1)
    other = load_training_data(_settings(tmp_path), supplier=FakeSupplier(), seed=2)
    assert first.extraction == again.extraction
    assert first.validation_harmful == again.validation_harmful
    assert first.extraction.harmful != other.extraction.harmful


def test_validation_is_decontaminated(tmp_path):
    validation = [HARMFUL[0], HARMFUL[5], "Held-out harmful request"]
    settings = _settings(tmp_path, validation_harmful=_lines(tmp_path / "vh.txt", validation),
                         validation_size=5)
    data = load_training_data(settings, supplier=FakeSupplier(), seed=0)
    assert data.validation_harmful == ["Held-out harmful request"]
    assert data.counts["validation_harmful_overlap_dropped"] == 2
    assert data.counts["validation_harmful"] == 1 and data.counts["validation_harmless"] == 5
    assert not set(data.validation_harmful) & training_prompt_texts(data)


def test_refused_retain_answers_are_dropped_and_counted(tmp_path):
    supplier = FakeSupplier(refuse={HARMLESS[2], PSEUDO[1]})
    data = load_training_data(_settings(tmp_path, extraction_size=2), supplier=supplier, seed=0)
    assert HARMLESS[2] not in {ex.prompt for ex in data.harmless}
    assert PSEUDO[1] not in {ex.prompt for ex in data.pseudo} and len(data.pseudo) == 3
    assert data.counts["helpful_refused_dropped"] == 1
    assert data.counts["compliant_refused_dropped"] == 1


def test_empty_pool_is_an_error_naming_the_set(tmp_path):
    supplier = FakeSupplier(refuse=set(PSEUDO))
    with pytest.raises(DataError, match="pseudo-harmful training"):
        load_training_data(_settings(tmp_path), supplier=supplier, seed=0)
    supplier = FakeSupplier(refuse=set(HARMFUL))
    with pytest.raises(DataError, match="extraction harmful-answer"):
        load_training_data(_settings(tmp_path), supplier=supplier, seed=0)


def test_duplicates_are_counted(tmp_path):
    settings = _settings(tmp_path, harmless=_lines(tmp_path / "dup.txt", HARMLESS + HARMLESS[:3]))
    data = load_training_data(settings, supplier=FakeSupplier(), seed=0)
    assert data.counts["harmless_duplicates_dropped"] == 3
    assert data.counts["harmless_prompts"] == len(HARMLESS)


def test_builtin_sets_overlap_with_paper_extraction_size():
    data = load_training_data(DataSettings(), supplier=FakeSupplier(), seed=0)
    assert data.counts["extraction_overlaps_training"] == 1
    assert data.validation_harmful
    assert not set(data.validation_harmful) & training_prompt_texts(data)


def test_training_answers_file(tmp_path):
    data = load_training_data(_settings(tmp_path), supplier=FakeSupplier(), seed=0)
    path = write_training_answers(data, tmp_path / "run")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 2 * len(data.harmful) + len(data.harmless) + len(data.pseudo)
    assert {row["provenance"] for row in rows} == {"model", "model+ablation"}


def test_max_prompts_takes_a_seeded_counted_sample():
    from harc.training.config import DataSettings
    from harc.training.pools import limited

    settings = DataSettings(max_prompts=3)
    counts: dict[str, int] = {}
    prompts = [f"prompt {i}" for i in range(10)]
    first = limited(prompts, settings, 0, "harmful", counts)
    assert len(first) == 3 and set(first) <= set(prompts)
    assert counts == {"harmful_not_sampled": 7}
    assert limited(prompts, settings, 0, "harmful", {}) == first
    assert limited(prompts, DataSettings(), 0, "harmful", {}) == prompts
