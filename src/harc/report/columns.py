"""The columns of the results table: one per (harm judge, attack) and a mean per judge, one
per over-refusal and capability benchmark, and the capability mean.

An attack column is headed by what its judge measures, never "ASR" for a refusal judge:
``Compliance (keyword) direct`` (a refusal judge: the compliance rate) or ``Harmful
(llm-harmbench) direct`` (a harm judge: the harmful rate, the paper's ASR).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harc.evaluation.results import SECTIONS, EvaluationResult, SectionResult
from harc.judges.measured import kind_label, short_name

MEAN = "mean"
SECTION_TITLES = {"over_refusal": "Over-refusal", "capability": "Help."}
MEAN_SECTIONS = ("harmfulness", "capability")


@dataclass(frozen=True)
class Column:
    """``judge``/``measures``/``judge_label``: only for harmfulness columns."""

    section: str
    name: str
    label: str
    higher_is_better: bool
    judge: str | None = None
    measures: str | None = None
    judge_label: str | None = None

    @property
    def header(self) -> str:
        arrow = "↑" if self.higher_is_better else "↓"
        if self.section == "harmfulness":
            kind = f"{kind_label(self.measures or 'compliance')} ({self.judge_label})"
            return f"{kind} {self.label} {arrow}"
        if self.name == MEAN:
            return f"{SECTION_TITLES[self.section]} mean {arrow}"
        return f"{self.label} {arrow}"


def judge_columns(results: Sequence[EvaluationResult]) -> list[Column]:
    """Per harm judge (first-appearance order): its attack columns, then its mean."""
    judges: dict[str, str] = {}
    attacks: dict[str, SectionResult] = {}
    for result in results:
        for judge in result.judge_names:
            measures = result.judge_measures(judge)
            if measures is not None:
                judges.setdefault(judge, measures)
        for item in result.section("harmfulness"):
            attacks.setdefault(item.name, item)
    shorts = [short_name(judge) for judge in judges]
    columns: list[Column] = []
    for judge, measures in judges.items():
        label = short_name(judge) if shorts.count(short_name(judge)) == 1 else judge
        columns += [Column("harmfulness", name, item.label, False, judge, measures, label)
                    for name, item in attacks.items()]
        columns.append(Column("harmfulness", MEAN, MEAN, False, judge, measures, label))
    return columns


def table_columns(results: Sequence[EvaluationResult]) -> list[Column]:
    """Every section's columns in first-appearance order, plus the mean columns."""
    columns = judge_columns(results)
    for section in SECTIONS[1:]:
        seen: dict[str, SectionResult] = {}
        for result in results:
            for item in result.section(section):
                seen.setdefault(item.name, item)
        higher = section == "capability"
        columns += [Column(section, name, item.label, higher) for name, item in seen.items()]
        if section in MEAN_SECTIONS and seen:
            columns.append(Column(section, MEAN, MEAN, higher))
    return columns


def cell_metric(result: EvaluationResult, column: Column) -> tuple[float, float, float] | None:
    """(value, ci_low, ci_high) of a cell; a mean has NaN bounds; None when missing."""
    if column.name == MEAN:
        value = (result.judge_mean(column.judge) if column.judge is not None
                 else result.mean(column.section))  # type: ignore[arg-type]
        return (value, math.nan, math.nan)
    item = result.get(column.section, column.name)  # type: ignore[arg-type]
    if item is None:
        return None
    if column.judge is None:
        return (item.value, item.ci_low, item.ci_high)
    entry = item.judge_metrics().get(column.judge)
    if entry is None:
        return None
    return (entry["value"], entry["ci_low"], entry["ci_high"])


def column_scale(results: Sequence[EvaluationResult], column: Column) -> float:
    """The column's metric maximum (10 for MT-Bench, 1 for rates and means)."""
    if column.name == MEAN:
        return 1.0
    for result in results:
        item = result.get(column.section, column.name)  # type: ignore[arg-type]
        if item is not None:
            return item.scale
    return 1.0
