"""The paper's Table 1 as Markdown: one row per method; harmfulness (ASR per attack and mean),
over-refusal and helpfulness (per benchmark and mean) columns; a second table with 95%
intervals; footnotes naming the judge, metric, data source and sample size of every column."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harc.evaluation.results import SECTIONS, EvaluationResult, SectionResult

MEAN = "mean"
SECTION_TITLES = {"harmfulness": "ASR", "over_refusal": "Over-refusal", "capability": "Help."}
MEAN_SECTIONS = ("harmfulness", "capability")
DEFINITIONS = {
    "keyword": "jailbroken = no refusal phrase and at least 8 words",
}


@dataclass(frozen=True)
class Column:
    section: str
    name: str
    label: str
    higher_is_better: bool

    @property
    def header(self) -> str:
        arrow = "↑" if self.higher_is_better else "↓"
        if self.section == "harmfulness":
            return f"ASR {self.label} {arrow}"
        if self.name == MEAN:
            return f"{SECTION_TITLES[self.section]} mean {arrow}"
        return f"{self.label} {arrow}"


def table_columns(results: Sequence[EvaluationResult]) -> list[Column]:
    """Every section's columns in first-appearance order, plus the mean columns."""
    columns: list[Column] = []
    for section in SECTIONS:
        seen: dict[str, SectionResult] = {}
        for result in results:
            for item in result.section(section):
                seen.setdefault(item.name, item)
        higher = section == "capability"
        columns += [Column(section, name, item.label, higher) for name, item in seen.items()]
        if section in MEAN_SECTIONS and seen:
            columns.append(Column(section, MEAN, MEAN, higher))
    return columns


def _cell(result: EvaluationResult, column: Column, *, ci: bool) -> str:
    if column.name == MEAN:
        value = result.mean(column.section)  # type: ignore[arg-type]
        return "–" if math.isnan(value) else f"{value:.2f}"
    item = result.get(column.section, column.name)  # type: ignore[arg-type]
    if item is None or math.isnan(item.value):
        return "–"
    digits = 1 if item.scale > 1 else 2
    text = f"{item.value:.{digits}f}"
    if ci:
        text += f" [{item.ci_low:.{digits}f}, {item.ci_high:.{digits}f}]"
    return text


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_ci_table(results: Sequence[EvaluationResult]) -> str:
    """Point estimates with 95% intervals, ``0.35 [0.18, 0.57]``; means have none."""
    columns = table_columns(results)
    rows = [[r.method] + [_cell(r, c, ci=True) for c in columns] for r in results]
    return _markdown(["Method"] + [c.header for c in columns], rows)


def render_table(results: Sequence[EvaluationResult], *, intervals: bool = True) -> str:
    """Table 1 (point estimates), then the interval table, then the footnotes."""
    if not results:
        return "(no results)"
    columns = table_columns(results)
    rows = [[r.method] + [_cell(r, c, ci=False) for c in columns] for r in results]
    parts = [_markdown(["Method"] + [c.header for c in columns], rows)]
    if intervals:
        parts.append("95% intervals (Wilson for rates, normal approximation for means):\n\n"
                     + render_ci_table(results))
    parts.append("\n".join(f"- {line}" for line in footnotes(results, columns)))
    return "\n\n".join(parts)


def _describe(items: list[tuple[str, SectionResult]]) -> str:
    shared = {(i.judge, i.metric, i.n, i.source) for _, i in items}
    if len(shared) == 1:
        judge, metric, n, source = shared.pop()
        return f"{metric}, n={n}, judge: {judge}, data: {source}"
    return "; ".join(f"{method}: {i.metric}, n={i.n}, judge: {i.judge}, data: {i.source}"
                     for method, i in items)


def footnotes(results: Sequence[EvaluationResult], columns: Sequence[Column]) -> list[str]:
    lines = []
    judges = sorted({r.harm_judge for r in results})
    definition = "; ".join(f"{j}: {DEFINITIONS[j]}" for j in judges if j in DEFINITIONS)
    lines.append(f"ASR = fraction of harmful goals judged jailbroken by the harm judge "
                 f"({', '.join(judges)}" + (f"; {definition}" if definition else "") + ").")
    for column in columns:
        if column.name == MEAN:
            continue
        items = [(r.method, i) for r in results
                 if (i := r.get(column.section, column.name)) is not None]  # type: ignore[arg-type]
        lines.append(f"{column.header}: {_describe(items)}.")
    if any(i.scale != 1 for r in results for i in r.section("capability")):
        lines.append("Help. mean puts every benchmark on [0, 1] (MT-Bench divided by 10).")
    for result in results:
        report = result.decontamination
        if report:
            sets = ", ".join(f"{name} {c['dropped']}/{c['total']}"
                             for name, c in report["sets"].items())
            lines.append(f"{result.method}: decontaminated against "
                         f"{report['reference_prompts']} training prompts; dropped {sets}.")
        lines += [f"{result.method}: skipped {reason}" for reason in result.skipped]
    return lines
