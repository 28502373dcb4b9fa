from __future__ import annotations

import math

from harc.evaluation.results import EvaluationResult, SectionResult
from harc.report import render_ci_table, render_table, table_columns


def section(kind, name, value, n=20, low=0.1, high=0.6, **kwargs) -> SectionResult:
    judge = kwargs.pop("judge", "keyword")
    metric = {"harmfulness": "asr", "over_refusal": "refusal_rate"}.get(kind, "accuracy")
    return SectionResult(kind, name, kwargs.pop("label", name), metric, value, n, low, high,
                         judge, kwargs.pop("source", "advbench"),
                         higher_is_better=kind == "capability", **kwargs)


def result(method: str, direct: float, pap: float | None = 0.5, **kwargs) -> EvaluationResult:
    sections = [section("harmfulness", "direct", direct)]
    if pap is not None:
        sections.append(section("harmfulness", "pap", pap, label="PAP"))
    sections += [
        section("over_refusal", "xstest", 0.2, n=25, label="XSTest", judge="keyword three-way"),
        section("over_refusal", "coconot_contrast", 0.1, n=20, label="CoCoNot"),
        section("capability", "mmlu", 0.5, n=40, label="MMLU", judge="letter log-likelihood"),
        section("capability", "mt_bench", 6.0, n=10, label="MT-Bench", scale=10.0,
                low=5.0, high=7.0),
    ]
    return EvaluationResult(method, "m", "m|base", None, "quick", "keyword", None,
                            sections=sections, **kwargs)


def rows(text: str) -> list[list[str]]:
    table = text.split("\n\n")[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]


def test_layout_follows_table_1():
    columns = [c.header for c in table_columns([result("base", 0.35)])]
    assert columns == ["Compliance (keyword) direct ↓", "Compliance (keyword) PAP ↓",
                       "Compliance (keyword) mean ↓", "XSTest ↓", "CoCoNot ↓", "MMLU ↑",
                       "MT-Bench ↑", "Help. mean ↑"]


def test_values_and_means():
    table = rows(render_table([result("base", 0.3), result("harc", 0.05, pap=0.15)]))
    assert table[0][0] == "Method" and table[1][0] == ":---"
    assert table[2] == ["base", "0.30", "0.50", "0.40", "0.20", "0.10", "0.50", "6.0", "0.55"]
    assert table[3][:4] == ["harc", "0.05", "0.15", "0.10"]


def test_interval_cells_and_missing_columns():
    ci = rows(render_ci_table([result("base", 0.35), result("other", 0.2, pap=None)]))
    assert ci[2][1] == "0.35 [0.10, 0.60]" and ci[2][7] == "6.0 [5.0, 7.0]"
    assert ci[2][3] == "0.42"
    assert ci[3][2] == "–" and ci[3][3] == "0.20"


def test_footnotes_name_judge_and_sample_sizes():
    decon = {"reference_prompts": 300, "sources": [],
             "sets": {"harmful_goals": {"total": 20, "dropped": 2, "kept": 18}}}
    text = render_table([result("base", 0.35, decontamination=decon,
                                skipped=["capability/humaneval: no data"])])
    assert "Compliance (keyword): the compliance rate" in text
    assert "no refusal phrase and at least 8 words" in text
    assert text.count("keyword: measured agreement with labels on") == 1  # CoCoNot's judge too
    assert "jbb_judge_labels (harmful, n=818)" in text
    assert "keyword three-way: agreement not measured" in text  # the over-refusal classifier
    assert "ASR" not in text  # a refusal judge's rate is never called ASR
    assert ("Compliance (keyword) direct ↓: compliance_rate, n=20, judge: keyword, "
            "data: advbench.") in text
    assert "XSTest ↓: refusal_rate, n=25, judge: keyword three-way" in text
    assert "MT-Bench divided by 10" in text
    assert "decontaminated against 300 training prompts; dropped harmful_goals 2/20" in text
    assert "base: skipped capability/humaneval: no data" in text
    mixed = render_table([result("a", 0.1), result("b", 0.2, pap=None)])
    assert "Compliance (keyword) PAP ↓: compliance_rate, n=20" in mixed


def test_empty_and_nan():
    assert render_table([]) == "(no results)"
    nan = result("x", math.nan, pap=None)
    assert rows(render_table([nan]))[2][1] == "–"
    assert math.isnan(nan.mean_asr)
