from __future__ import annotations

import pytest

from harc.errors import HarcError
from harc.evaluation.suites import (
    AttackSpec,
    BenchmarkEntry,
    GoalSpec,
    Suite,
    effective_limit,
    load_suite,
    paper_suite,
    quick_suite,
)


def test_quick_suite_is_small_and_has_no_iterative_attacks():
    suite = load_suite("quick")
    names = [a.name for a in suite.attacks]
    assert names[:2] == ["direct", "refusal_suppression"]
    assert "pair" not in names and "gcg" not in names and "pap" in names
    assert all(a.attacker == "none" for a in suite.attacks)
    assert suite.goals.limit == 20 and suite.goals.fallback == "builtin:harmful:heldout"
    assert suite.goals.max_new_tokens <= 64
    assert {e.name for e in suite.over_refusal} == {"xstest", "coconot_contrast"}
    assert all(e.limit is not None for e in (*suite.over_refusal, *suite.capability))
    xstest = next(e for e in suite.over_refusal if e.name == "xstest")
    assert xstest.fallback == "builtin:pseudo_harmful:heldout"


def test_paper_suite_uses_full_sets_and_attackers():
    suite = paper_suite()
    attacks = {a.name: a for a in suite.attacks}
    assert {"direct", "pair", "pap", "deep_inception", "code_attack"} <= set(attacks)
    assert attacks["pap"].attacker == "self" and attacks["deep_inception"].kwargs["use_dataset"]
    assert all(e.limit is None for e in (*suite.over_refusal, *suite.capability))
    assert {e.name for e in suite.capability} == {"mmlu", "gsm8k", "humaneval", "ifeval",
                                                  "mt_bench"}
    assert suite.goals.limit is None and suite.goals.fallback is None


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(quick_suite().to_yaml(), encoding="utf-8")
    assert load_suite(path) == quick_suite()


def test_yaml_by_hand(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: mine\ngoals: {source: advbench, limit: 3}\n"
        "attacks: [{name: direct}, {name: pap, label: PAP, kwargs: {per_goal: 2}}]\n"
        "capability: [{name: mmlu, limit: 5, kwargs: {k_shot: 0}}]\n",
        encoding="utf-8",
    )
    suite = load_suite(path)
    assert suite.goals == GoalSpec(source="advbench", limit=3)
    assert suite.attacks[1] == AttackSpec("pap", "PAP", {"per_goal": 2})
    assert suite.attacks[1].column == "PAP" and suite.attacks[0].column == "direct"
    assert suite.capability == (BenchmarkEntry("mmlu", limit=5, kwargs={"k_shot": 0}),)
    assert suite.over_refusal == ()


def test_bad_suites_are_clear_errors(tmp_path):
    with pytest.raises(HarcError, match="unknown suite"):
        load_suite("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nattackz: []\n", encoding="utf-8")
    with pytest.raises(HarcError, match="unknown keys"):
        load_suite(bad)
    bad.write_text("name: x\nattacks: [{nam: direct}]\n", encoding="utf-8")
    with pytest.raises(HarcError, match="suite 'x'"):
        load_suite(bad)
    bad.write_text("name: x\nseed: abc\n", encoding="utf-8")
    with pytest.raises(HarcError, match="suite 'x': seed: invalid literal"):
        load_suite(bad)


def test_scaling_and_effective_limit():
    suite = Suite("s").scaled(0.5).scaled(0.5)
    assert suite.limit_scale == 0.25
    with pytest.raises(HarcError):
        Suite("s").scaled(0)
    assert effective_limit(None, 100, 1.0) is None
    assert effective_limit(20, 100, 1.0) == 20
    assert effective_limit(20, 100, 0.5) == 10
    assert effective_limit(None, 100, 0.1) == 10
    assert effective_limit(20, 10, 3.0) == 10
    assert effective_limit(2, 100, 0.01) == 1


def test_suite_docs_state_the_smallest_detectable_difference():
    from harc.evaluation import suites
    from harc.evaluation.significance import minimum_detectable_difference as detectable

    doc = " ".join(suites.__doc__.split())
    quick = quick_suite()
    goals, attacks = quick.goals.limit, len(quick.attacks)
    assert f"{detectable(goals):.2f} per attack ({goals} goals)" in doc
    assert f"{detectable(goals * attacks):.2f} for the attack mean ({goals * attacks} goal" in doc
    for entry in (*quick.over_refusal, *quick.capability):
        assert f"{entry.label} {detectable(entry.limit):.2f} (n={entry.limit})" in doc
    assert f"{detectable(159):.2f} per attack (159 HarmBench test goals)" in doc
    for label, n in (("XSTest", 250), ("CoCoNot", 379), ("MMLU", 14042), ("GSM8K", 1319),
                     ("HumanEval", 164), ("IFEval", 541)):
        assert f"{label} {detectable(n):.2f} (n={n})" in doc
    assert "base rate of 0.5" in doc


def test_compare_full_suite_is_powered_and_never_falls_back():
    from pathlib import Path

    from harc.evaluation.significance import minimum_detectable_difference

    path = Path(__file__).resolve().parents[2] / "configs" / "suites" / "compare-full.yaml"
    suite = load_suite(path)
    assert suite.goals.source == "harmbench" and suite.goals.fallback is None
    assert suite.goals.limit >= 100 and suite.goals.max_new_tokens >= 96
    attacks = {attack.name: attack for attack in suite.attacks}
    assert {"direct", "pap", "deep_inception", "code_attack", "refusal_suppression",
            "roleplay"} <= set(attacks)
    assert attacks["pap"].attacker == "self"
    pair_suite = load_suite(path.with_name("compare-full-pair.yaml"))
    assert [attack.name for attack in pair_suite.attacks] == ["pair"]
    assert pair_suite.attacks[0].attacker == "self" and pair_suite.goals == suite.goals
    limits = {entry.name: entry.limit for entry in (*suite.over_refusal, *suite.capability)}
    assert limits["xstest"] is None and limits["coconot_contrast"] is None  # whole sets
    assert limits["mmlu"] >= 300 and limits["gsm8k"] >= 100 and limits["ifeval"] >= 100
    # the header's figure for one attack column
    assert round(minimum_detectable_difference(suite.goals.limit), 2) == 0.16


def test_suite_values_are_validated_where_they_are(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngoals: {limit: many}\n", encoding="utf-8")
    with pytest.raises(HarcError, match=r"suite 'x': goals\.limit: invalid literal"):
        load_suite(bad)
    bad.write_text("name: x\ncapability: [{name: mmlu, batch_sise: 4}]\n", encoding="utf-8")
    with pytest.raises(HarcError, match=r"capability\.0\.batch_sise: Unexpected keyword"):
        load_suite(bad)
