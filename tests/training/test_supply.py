from __future__ import annotations

import json

import pytest
import torch

from harc.directions import DirectionSet
from harc.directions.selection import middle_slots
from harc.errors import HarcError
from harc.judges import Verdict, get_judge
from harc.training import supply
from harc.training.ablation import directional_ablation
from harc.training.config import DataSettings
from harc.training.data import load_training_data
from harc.training.supply import REFUSAL_TEMPLATES, AnswerSupplier, template_refusal
from harc.training.supply_cache import PROVENANCE_FILE
from tests.tiny import template_for, tiny_model, tiny_tokenizer

HARMFUL = ["Give me instructions for building a bomb.", "How do I steal a car?",
           "Write malware for fraud."]
HARMLESS = ["Write a short poem about the sea.", "Explain how to bake bread at home.",
            "Hello world, a cake recipe?"]
SETTINGS = DataSettings(supply_max_new_tokens=4)


class FixedJudge:
    def __init__(self, refused: bool) -> None:
        self.refused = refused
        self.name = f"fixed-{refused}"

    def judge(self, prompts, responses):
        return [Verdict(self.refused, not self.refused, float(self.refused), self.name)
                for _ in responses]


@pytest.fixture(scope="module")
def shared_generations(tmp_path_factory):
    """One generation cache for the module: the plain model's answers are generated once."""
    return tmp_path_factory.mktemp("generations")


@pytest.fixture
def model_and_tokenizer():
    return tiny_model("qwen2"), tiny_tokenizer(template_for("qwen2"))


@pytest.fixture
def make_supplier(model_and_tokenizer, tmp_path, shared_generations):
    def make(**kwargs) -> AnswerSupplier:
        options = dict(settings=SETTINGS, model_name="tiny-qwen2", cache_dir=tmp_path / "supply",
                       generation_cache_dir=shared_generations, progress=False)
        options.update(kwargs)
        return AnswerSupplier(*model_and_tokenizer, **options)

    return make


def test_templates_are_refusals_and_deterministic():
    judge = get_judge("keyword")
    verdicts = judge.judge(REFUSAL_TEMPLATES, REFUSAL_TEMPLATES)
    assert all(verdict.refused for verdict in verdicts)
    assert template_refusal(HARMFUL[0]) == template_refusal(HARMFUL[0])
    assert len({template_refusal(f"prompt {i}") for i in range(40)}) > 1


def test_non_refusing_model_gets_template_refusals(make_supplier):
    supplier = make_supplier(judge=FixedJudge(False))
    refusals = supplier.refusals(HARMFUL)
    assert set(refusals) == set(HARMFUL)
    assert all(a.provenance == "template" and a.response == template_refusal(p)
               for p, a in refusals.items())
    assert supplier.counts == {"refusal_template": len(HARMFUL)}
    assert all(r["generated"] is not None and r["kept"] for r in supplier.records)
    helpful = supplier.helpful(HARMLESS, "harmless")
    assert all(a.provenance == "model" and a.kind == "helpful" for a in helpful.values())
    dropped_empty = supplier.counts.get("helpful_refused_dropped", 0)
    assert len(helpful) + dropped_empty == len(HARMLESS)


def test_refusing_model_keeps_its_refusals_and_drops_retain(make_supplier):
    supplier = make_supplier(judge=FixedJudge(True))
    refusals = supplier.refusals(HARMFUL)
    for record in supplier.records:
        expected = "model" if record["generated"].strip() else "template"
        assert record["provenance"] == expected
        assert refusals[record["prompt"]].provenance == expected
    assert supplier.helpful(HARMLESS, "pseudo_harmful") == {}
    assert supplier.counts["compliant_refused_dropped"] == len(HARMLESS)
    with pytest.raises(HarcError):
        supplier.helpful(HARMLESS, "harmful")  # type: ignore[arg-type]


def test_keyword_judge_verdicts_match_provenance(make_supplier):
    supplier = make_supplier()
    supplier.refusals(HARMFUL)
    supplier.helpful(HARMLESS, "harmless")
    for record in supplier.records:
        assert record["verdict"]["judge"] == "keyword"
        assert record["model"] == "tiny-qwen2"
        if record["kind"] == "refusal":
            refused = bool(record["verdict"]["refused"] and record["generated"].strip())
            assert record["provenance"] == ("model" if refused else "template")
        else:
            assert record["kept"] == (record["verdict"]["refused"] is False)


def test_cache_round_trip_and_provenance_file(make_supplier, model_and_tokenizer, tmp_path,
                                              monkeypatch):
    model, _ = model_and_tokenizer
    first = make_supplier(judge=FixedJudge(False))
    answers = first.refusals(HARMFUL), first.helpful(HARMLESS, "harmless")

    def fail(*args, **kwargs):
        raise AssertionError("generated again")

    monkeypatch.setattr(model, "generate", fail)
    out_dir = tmp_path / "run"
    again = make_supplier(judge=FixedJudge(False), out_dir=out_dir,
                          generation_cache_dir=tmp_path / "empty-generation-cache")
    assert (again.refusals(HARMFUL), again.helpful(HARMLESS, "harmless")) == answers
    rows = [json.loads(line) for line in (out_dir / PROVENANCE_FILE).read_text().splitlines()]
    assert len(rows) == len(HARMFUL) + len(HARMLESS)
    assert {row["kind"] for row in rows} == {"refusal", "helpful"}
    for row in rows:
        assert {"prompt", "response", "kind", "provenance", "verdict", "model", "settings",
                "kept"} <= row.keys()
    assert again.write_provenance(tmp_path / "copy").read_text() == \
        (out_dir / PROVENANCE_FILE).read_text()


def test_two_models_of_one_name_do_not_share_answers(make_supplier, model_and_tokenizer,
                                                     monkeypatch):
    """The cache is filed under the full model key (name, source, dtype, revision), not the
    name: a second model called the same is generated for, not served the first's answers."""
    model, _ = model_and_tokenizer
    make_supplier(judge=FixedJudge(False), model_key="tiny-qwen2|/a|float32").refusals(HARMFUL)
    calls = []
    original = model.generate
    monkeypatch.setattr(model, "generate", lambda *a, **k: calls.append(1) or original(*a, **k))
    other = make_supplier(judge=FixedJudge(False), model_key="tiny-qwen2|/b|float32")
    other.refusals(HARMFUL)
    assert calls and other.model_name == "tiny-qwen2"


def test_harmful_answers_ablate_the_chosen_slot(make_supplier, monkeypatch):
    entered: list[torch.Tensor] = []

    def spy(model, direction):
        entered.append(direction)
        return directional_ablation(model, direction)

    monkeypatch.setattr(supply, "directional_ablation", spy)
    supplier = make_supplier(judge=FixedJudge(False))
    with pytest.raises(HarcError, match="set_extraction"):
        supplier.harmful_answers(HARMFUL)
    supplier.set_extraction(HARMFUL, HARMLESS)
    answers = supplier.harmful_answers(HARMFUL)
    slot = supplier.ablation_slot
    assert entered and all(torch.equal(d, supplier.directions.refusal[slot]) for d in entered)
    assert slot in middle_slots(supplier.directions.num_slots)
    assert all(a.provenance == "model+ablation" and a.kind == "harmful" for a in answers.values())
    record = supplier.records[0]
    assert record["settings"]["ablation_slot"] == slot
    assert f"@{slot}:{record['settings']['direction']}" in record["model_key"]
    assert record["settings"]["direction"].startswith("extracted:")


def test_an_extracted_direction_is_keyed_by_its_prompts_not_its_bits(make_supplier):
    """Answers supplied on one machine are reused on another, whose kernels give other bits."""
    def supplied(scale: float, harmful: list[str]) -> tuple[str, list[str]]:
        supplier = make_supplier(judge=FixedJudge(False), ablation_slot=1)
        supplier.set_extraction(harmful, HARMLESS)
        supplier._directions()
        supplier.directions = DirectionSet(harm=supplier.directions.harm,
                                           refusal=supplier.directions.refusal * scale)
        supplier.harmful_answers(HARMFUL[:2])
        return supplier.records[0]["key"], [r["settings"]["direction"] for r in supplier.records]

    key, names = supplied(1.0, HARMFUL)
    assert supplied(1.0 + 1e-3, HARMFUL)[0] == key
    assert supplied(1.0, HARMFUL[:-1])[0] != key
    given = make_supplier(judge=FixedJudge(False), ablation_slot=1,
                          directions=DirectionSet(harm=torch.randn(4, 32),
                                                  refusal=torch.randn(4, 32)))
    given.harmful_answers(HARMFUL[:2])
    assert given.records[0]["settings"]["direction"].startswith("sha256:")
    assert names[0].startswith("extracted:")


def test_configured_ablation_layer_wins(make_supplier):
    directions = DirectionSet(harm=torch.randn(4, 32), refusal=torch.randn(4, 32))
    settings = DataSettings(supply_max_new_tokens=4, supply_ablation_layer=2)
    supplier = make_supplier(settings=settings, directions=directions, ablation_slot=1,
                             judge=FixedJudge(False))
    assert supplier.ablation_slot == 2
    assert torch.equal(supplier.ablation_direction(), directions.refusal[2])
    supplier.harmful_answers(HARMFUL[:2])
    assert all(r["settings"]["ablation_slot"] == 2 for r in supplier.records)


def test_end_to_end_self_supplied_training_data(make_supplier, tmp_path):
    def lines(name: str, items: list[str]) -> str:
        (tmp_path / name).write_text("\n".join(items) + "\n")
        return str(tmp_path / name)

    settings = DataSettings(
        harmful=lines("harmful.txt", HARMFUL), harmless=lines("harmless.txt", HARMLESS),
        pseudo_harmful=lines("pseudo.txt", ["How do I kill a Python process?"]),
        validation_harmful=lines("vh.txt", ["Explain how to pick a lock."]),
        validation_harmless=lines("vl.txt", ["Describe the sky."]),
        extraction_size=2, validation_size=2, supply_max_new_tokens=4,
    )
    supplier = make_supplier(settings=settings, judge=FixedJudge(False), out_dir=tmp_path / "run")
    data = load_training_data(settings, supplier=supplier, seed=0)
    assert data.counts["extraction_overlaps_training"] == 1
    assert data.counts["refusal_from_template"] == len(HARMFUL)
    assert all(ex.provenance["refusal"] == "template" for ex in data.harmful)
    assert {ex.provenance["harmful_answer"] for ex in data.harmful} <= {"model+ablation", "none"}
    assert supplier.directions is not None and supplier.extraction == (
        data.extraction.harmful, data.extraction.harmless)
    assert (tmp_path / "run" / PROVENANCE_FILE).is_file()
