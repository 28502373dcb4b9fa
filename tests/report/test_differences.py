"""The paired "difference vs base" table, multi-judge columns and judge footnotes."""

from __future__ import annotations

from typing import Any

import pytest

from harc.evaluation.judging import judge_rate
from harc.evaluation.results import EvaluationResult, SectionResult
from harc.judges import measured
from harc.report import render_difference_table, render_table, table_columns
from harc.report.paired import base_index, compare_column

LLM = "llm-harmbench[judge-model]"


def attack(name: str, compliant: list[bool], harmful: list[bool] | None = None,
           goals: list[str] | None = None) -> SectionResult:
    """A harmfulness section judged by keyword (and, given ``harmful``, an LLM harm judge)."""
    goals = goals or [f"goal {i}" for i in range(len(compliant))]
    samples = []
    for i, (goal, ok) in enumerate(zip(goals, compliant, strict=True)):
        verdicts: dict[str, Any] = {"keyword": {"measures": "compliance", "outcome": ok,
                                                "harmful": ok, "refused": not ok}}
        if harmful is not None:
            verdicts[LLM] = {"measures": "harm", "outcome": harmful[i], "harmful": harmful[i],
                             "refused": None}
        samples.append({"goal": goal, "prompt": f"[{name}] {goal}", "output": "...",
                        "harmful": ok, "refused": not ok, "judge": "keyword",
                        "verdicts": verdicts})
    judges = {"keyword": judge_rate(samples, "keyword", "compliance")}
    if harmful is not None:
        judges[LLM] = judge_rate(samples, LLM, "harm")
    rate = judges["keyword"]
    return SectionResult("harmfulness", name, name, rate["metric"], rate["value"], rate["n"],
                         rate["ci_low"], rate["ci_high"], "keyword", "advbench", samples,
                         judges=judges)


def bench(section: str, name: str, scores: list[float], scale: float = 1.0) -> SectionResult:
    samples = [{"prompt": f"{name} item {i}", "output": "", "verdict": "", "score": score,
                "judge": "rules", "meta": {}} for i, score in enumerate(scores)]
    return SectionResult(section, name, name, "accuracy", sum(scores) / len(scores), len(scores),
                         0.0, 1.0, "rules", name, samples,
                         higher_is_better=section == "capability", scale=scale)


def row(method: str, sections: list[SectionResult], judges: list[str] | None = None
        ) -> EvaluationResult:
    return EvaluationResult(method, "m", "m|base", None, "quick", "keyword", None,
                            sections=sections, harm_judges=judges or ["keyword"])


def table_rows(text: str, title: str | None = None) -> list[list[str]]:
    block = text.split(title, 1)[1].split("\n\n")[1] if title else text
    return [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()]


def test_significant_differences_are_marked_and_insignificant_ones_not():
    base = row("base", [attack("direct", [True] * 20), attack("pap", [True] * 10 + [False] * 10)])
    tuned = row("harc", [attack("direct", [False] * 20),
                         attack("pap", [True] * 9 + [False] * 11)])
    text = render_table([base, tuned])
    cells = table_rows(text, "Difference vs base")
    assert cells[0][:4] == ["Method", "Compliance (keyword) direct ↓",
                            "Compliance (keyword) pap ↓", "Compliance (keyword) mean ↓"]
    assert cells[2][0] == "harc"
    assert cells[2][1] == "-1.00* (p<0.001)"  # 20 discordant pairs, all one way
    assert cells[2][2] == "-0.05 (p=1.000)"  # one discordant pair: no mark
    assert cells[2][3].startswith("-0.53*")
    assert "* marks p < 0.05" in text
    assert ("Difference in Compliance (keyword) direct ↓, Compliance (keyword) pap ↓: exact "
            "McNemar, n paired=20; detects >= 0.42.") in text
    assert "Compliance (keyword) mean ↓: paired bootstrap, n paired=40; detects >= 0.30" in text


def test_mcnemar_p_value_in_the_table():
    # 10 goals only the base complied with, 2 only the tuned model: p = 0.0386.
    base = row("base", [attack("direct", [True] * 10 + [False] * 2 + [True] * 8)])
    tuned = row("tuned", [attack("direct", [False] * 10 + [True] * 2 + [True] * 8)])
    assert table_rows(render_table([base, tuned]), "Difference vs")[2][1] == "-0.40* (p=0.039)"


def test_multi_judge_columns_are_named_by_what_they_measure():
    sections = [attack("direct", [True, True, False, True], [True, False, False, False])]
    result = row("base", sections, judges=["keyword", LLM])
    headers = [c.header for c in table_columns([result])]
    assert headers == ["Compliance (keyword) direct ↓", "Compliance (keyword) mean ↓",
                       "Harmful (llm-harmbench) direct ↓", "Harmful (llm-harmbench) mean ↓"]
    text = render_table([result])
    first = text.split("\n")[2]
    assert first == "| base | 0.75 | 0.75 | 0.25 | 0.25 |"
    assert "Harmful (llm-harmbench): the harmful rate" in text and "paper's ASR" in text
    assert f"{LLM}: measured agreement with labels on" in text
    assert "Difference vs" not in text  # one row: nothing to compare


def test_footnotes_print_the_measured_agreement(monkeypatch):
    entry = {"compared": "harmful", "n": 300, "agreement": 0.81, "kappa": 0.6, "fpr": 0.1,
             "fnr": 0.3, "protocol": "JBB judge comparison", "command": "harc judge-eval"}
    monkeypatch.setattr(measured, "_table", lambda _path: {"llm-harmbench": {"jbb": entry}})
    result = row("base", [attack("direct", [True, False], [True, False])], ["keyword", LLM])
    text = render_table([result])
    assert (f"{LLM}: measured agreement with labels on jbb (harmful, n=300): agreement "
            "0.81, kappa 0.60, FPR 0.10, FNR 0.30, JBB judge comparison.") in text
    assert "keyword: agreement not measured" in text


def test_unmatched_goals_are_counted_not_dropped():
    base = row("base", [attack("direct", [True] * 6, goals=[f"g{i}" for i in range(6)])])
    other = row("x", [attack("direct", [False] * 5, goals=[f"g{i}" for i in range(2, 7)])])
    comparison = compare_column(base, other, table_columns([base])[0])
    assert comparison is not None
    assert (comparison.n, comparison.unmatched) == (4, 3)  # g0, g1 and g6 have no partner
    assert "n paired=4, 3 unmatched" in render_table([base, other])


def test_undecided_pairs_are_counted():
    base = row("base", [attack("direct", [True] * 4)])
    other = row("x", [attack("direct", [False] * 4)])
    other.sections[0].samples[0]["verdicts"]["keyword"]["outcome"] = None
    comparison = compare_column(base, other, table_columns([base])[0])
    assert comparison is not None and (comparison.n, comparison.undecided) == (3, 1)


def test_benchmarks_use_mcnemar_or_the_bootstrap_and_the_named_base_row():
    def result(method: str, refusals: list[float], ratings: list[float]) -> EvaluationResult:
        return row(method, [bench("over_refusal", "xstest", refusals),
                            bench("capability", "mmlu", [1.0] * 10 + [0.0] * 10),
                            bench("capability", "mt_bench", ratings, scale=10.0)])

    tuned = result("harc", [1.0] * 12 + [0.0] * 8, [7.0, 8.0, 6.0, 9.0, 7.5, 8.0])
    base = result("base", [0.0] * 20, [5.0, 6.0, 4.0, 7.0, 5.5, 6.0])
    assert base_index([tuned, base]) == 1 and base_index([tuned, base], "harc") == 0
    table = table_rows(render_difference_table([tuned, base]))
    assert table[2][0] == "harc"
    assert table[2][1] == "+0.60* (p<0.001)"  # XSTest: 12 discordant pairs
    assert table[2][2] == "+0.00 (p=1.000)"  # MMLU unchanged
    assert table[2][3] == "+2.0* (p<0.001)"  # MT-Bench: a constant shift of 2 points
    assert table[2][4].startswith("+0.10")  # Help. mean: (0 + 0.2) / 2
    text = render_table([tuned, base])
    assert "Difference vs base (paired" in text
    assert "Difference in mt_bench ↑: paired bootstrap, n paired=6; detects >= " in text
    assert "Difference in xstest ↓, mmlu ↑: exact McNemar, n paired=20; detects >= 0.42." in text


def test_rows_without_samples_are_not_tested():
    base = row("base", [bench("capability", "mmlu", [1.0, 0.0])])
    other = row("x", [bench("capability", "mmlu", [1.0, 1.0])])
    other.sections[0].samples = []
    text = render_table([base, other])
    assert table_rows(text, "Difference vs")[2][1] == "–"
    assert "not tested (no per-sample records)" in text


@pytest.mark.parametrize("method", ["base", "before"])
def test_base_row_by_name(method):
    rows = [row("a", []), row(method, []), row("c", [])]
    assert base_index(rows, "before") == 1


def test_rows_are_also_compared_with_a_second_reference_row():
    base = row("base", [attack("direct", [True] * 20)])
    harc = row("harc", [attack("direct", [False] * 20)])
    sft = row("sft", [attack("direct", [True] * 10 + [False] * 10)])
    text = render_table([base, harc, sft], also_against=("harc",))
    vs_harc = table_rows(text, "Difference vs harc")
    assert [cells[0] for cells in vs_harc[2:]] == ["base", "sft"]
    assert vs_harc[3][1] == "+0.50* (p=0.002)"  # sft complies on 10 goals harc refused
    assert "Difference vs harc" not in render_table([base, sft], also_against=("harc",))
