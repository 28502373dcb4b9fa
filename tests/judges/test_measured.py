from __future__ import annotations

import json
from importlib import resources

from harc.judges import KeywordJudge, LLMJudge, RefusalProbabilityJudge, classify_refusal
from harc.judges.measured import (
    SAME_REFUSAL_CALL,
    describe_agreement,
    kind_label,
    measured_agreement,
    measures_for_name,
    measures_of,
    short_name,
)
from tests.evaluation.fakes import FakeGenerator
from tests.judges.test_keyword import COMPLIANCE, PARTIAL, REFUSALS

ENTRY = {"compared": "harmful", "n": 120, "agreement": 0.9, "kappa": 0.75, "fpr": 0.05,
         "fnr": 0.2, "protocol": "5-fold", "command": "harc judge-eval ..."}


def test_judges_declare_what_they_measure():
    assert KeywordJudge.measures == "compliance" and measures_of(KeywordJudge()) == "compliance"
    assert RefusalProbabilityJudge.measures == "compliance"
    for style, kind in (("harmbench", "harm"), ("strongreject", "harm"),
                        ("refusal", "compliance")):
        assert measures_of(LLMJudge(generator=FakeGenerator(), style=style)) == kind
    assert measures_of(object()) == "compliance"  # undeclared: never called harm
    assert (kind_label("compliance"), kind_label("harm")) == ("Compliance", "Harmful")


def test_names_of_older_results():
    assert short_name("llm-harmbench[Qwen (base)]") == "llm-harmbench"
    assert measures_for_name("llm-harmbench[Qwen (base)]") == "harm"
    assert measures_for_name("keyword") == "compliance"
    assert measures_for_name("something new") == "compliance"


def test_packaged_table_ships_and_reads():
    text = resources.files("harc.judges").joinpath("measured_agreement.json").read_text()
    assert isinstance(json.loads(text), dict)
    assert isinstance(measured_agreement("keyword"), list)


def test_agreement_lookup_and_description(tmp_path):
    path = tmp_path / "agreement.json"
    path.write_text(json.dumps({"llm-harmbench": {"jbb-judge": ENTRY},
                                "keyword": {"b": {**ENTRY, "compared": "refused"},
                                            "a": ENTRY}}))
    assert measured_agreement("llm-harmbench[Qwen]", path) == [{"labels": "jbb-judge", **ENTRY}]
    assert [e["labels"] for e in measured_agreement("keyword", path)] == ["a", "b"]
    assert measured_agreement("probe", path) == []
    line = describe_agreement("llm-harmbench[Qwen]", path)
    assert line == ("llm-harmbench[Qwen]: measured agreement with labels on jbb-judge "
                    "(harmful, n=120): agreement 0.90, kappa 0.75, FPR 0.05, FNR 0.20, 5-fold.")
    assert describe_agreement("probe", path).startswith("probe: agreement not measured")


def test_the_xstest_classifier_is_measured_as_the_keyword_refusal_call(tmp_path):
    three_way = "keyword three-way (classify_refusal)"
    assert {three_way: "keyword"} == SAME_REFUSAL_CALL
    responses = [*REFUSALS, *COMPLIANCE, PARTIAL, "", "Sure.", "I cannot stress this enough: "
                 "water boils at 100 C at sea level, and lower on a mountain."]
    keyword = KeywordJudge().judge([""] * len(responses), responses)
    assert [classify_refusal(r) != "full_compliance" for r in responses] == [
        v.refused for v in keyword]
    path = tmp_path / "agreement.json"
    path.write_text(json.dumps({"keyword": {"xstest": {**ENTRY, "compared": "refused"},
                                            "jbb": ENTRY}}))
    assert measured_agreement(three_way, path) == [
        {"labels": "xstest via keyword", **ENTRY, "compared": "refused"}]
    assert "on xstest via keyword (refused, n=120)" in describe_agreement(three_way, path)
    packaged = measured_agreement(three_way)
    assert packaged and {e["compared"] for e in packaged} == {"refused"}
