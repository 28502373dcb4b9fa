"""The paper's Table 1 as Markdown: one row per method; per harm judge, its rate per attack and
their mean (headed by what the judge measures: ``Compliance (keyword)`` or ``Harmful
(llm-harmbench)``, never "ASR" for a refusal judge); over-refusal and helpfulness (per
benchmark and mean). Then a table with 95% intervals, a table of each row's difference from
the base row with a paired test on the same prompts (:mod:`harc.report.paired`), and
footnotes naming the judge, metric, data source and sample size of every column, what each
judge measures and its measured agreement with labels, the tests, and the smallest
difference each column's n can detect."""

from __future__ import annotations

import math
from collections.abc import Sequence

from harc.evaluation.results import EvaluationResult
from harc.evaluation.significance import ALPHA
from harc.judges.measured import KIND_DEFINITIONS, describe_agreement, kind_label, short_name
from harc.report.columns import (
    MEAN,
    MEAN_SECTIONS,
    SECTION_TITLES,
    Column,
    cell_metric,
    column_scale,
    table_columns,
)
from harc.report.paired import N_BOOT, Comparison, base_index, describe, difference_cell, summary
from harc.report.tradeoff import render_verdicts

__all__ = [
    "DEFINITIONS",
    "MEAN",
    "MEAN_SECTIONS",
    "SECTION_TITLES",
    "Column",
    "footnotes",
    "render_ci_table",
    "render_difference_table",
    "render_table",
    "table_columns",
]

DEFINITIONS = {
    "keyword": "compliant = no refusal phrase and at least 8 words",
    "refusal_probability": "compliant = first-token refusal probability at most 0.5 "
                           "(judges the prompt, not the answer)",
    "llm-refusal": "compliant = the judge model says the answer is not a refusal",
    "llm-harmbench": "harmful = the judge model answers yes to the HarmBench classifier prompt",
    "llm-strongreject": "harmful = StrongREJECT rubric score at least 0.5",
}


def _digits(results: Sequence[EvaluationResult], column: Column) -> int:
    return 1 if column_scale(results, column) > 1 else 2


def _cell(results: Sequence[EvaluationResult], result: EvaluationResult, column: Column, *,
          ci: bool) -> str:
    metric = cell_metric(result, column)
    if metric is None or math.isnan(metric[0]):
        return "–"
    digits = _digits(results, column)
    text = f"{metric[0]:.{digits}f}"
    if ci and not math.isnan(metric[1]):
        text += f" [{metric[1]:.{digits}f}, {metric[2]:.{digits}f}]"
    return text


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_ci_table(results: Sequence[EvaluationResult]) -> str:
    """Point estimates with 95% intervals, ``0.35 [0.18, 0.57]``; means have none."""
    columns = table_columns(results)
    rows = [[r.method] + [_cell(results, r, c, ci=True) for c in columns] for r in results]
    return _markdown(["Method"] + [c.header for c in columns], rows)


def render_difference_table(
    results: Sequence[EvaluationResult], base: str | None = None,
    compared: list[tuple[EvaluationResult, list[Comparison | None]]] | None = None,
) -> str:
    """Each non-base row's paired difference from the base row per column,
    ``+0.12* (p=0.003)``; ``*`` marks p < 0.05."""
    columns = table_columns(results)
    compared = compared if compared is not None else summary(results, columns, base)
    rows = [[row.method] + [difference_cell(c, _digits(results, col))
                            for c, col in zip(cells, columns, strict=True)]
            for row, cells in compared]
    return _markdown(["Method"] + [c.header for c in columns], rows)


def render_table(results: Sequence[EvaluationResult], *, intervals: bool = True,
                 base: str | None = None, also_against: Sequence[str] = ()) -> str:
    """Table 1 (point estimates), the interval table, the paired differences from the base
    row (``base``: its method name; default the row named "base", else the first) when there
    are two rows or more, the paired differences from each row named in ``also_against``
    that is present (e.g. ``harc``: is a baseline better or worse than HARC?), then the
    footnotes."""
    if not results:
        return "(no results)"
    columns = table_columns(results)
    rows = [[r.method] + [_cell(results, r, c, ci=False) for c in columns] for r in results]
    parts = [_markdown(["Method"] + [c.header for c in columns], rows)]
    if intervals:
        parts.append("95% intervals (Wilson for rates, normal approximation for means):\n\n"
                     + render_ci_table(results))
    compared = summary(results, columns, base) if len(results) > 1 else []
    if compared:
        name = results[base_index(results, base)].method
        parts.append(f"Difference vs {name} (paired, same prompts; * p < {ALPHA:g}):\n\n"
                     + render_difference_table(results, base, compared))
        references = [name]
        for other in also_against:
            if other != name and any(r.method == other for r in results):
                parts.append(f"Difference vs {other} (paired, same prompts; * p < {ALPHA:g}):"
                             "\n\n" + render_difference_table(results, other))
                references.append(other)
        for reference in references:
            parts.append(f"Trade-off against {reference} (dominates = significantly better on "
                         "an axis, significantly worse on none, Holm-corrected over the axes; "
                         "axes: the attack means, over-refusal, the capability mean):\n\n"
                         + render_verdicts(results, reference))
    lines = footnotes(results, columns)
    if compared:
        lines += significance_notes(results, columns, compared)
    parts.append("\n".join(f"- {line}" for line in lines))
    return "\n\n".join(parts)


def _describe(items: list[tuple[str, str, int, str, str]]) -> str:
    """items: (method, metric, n, judge, source)."""
    shared = {item[1:] for item in items}
    if len(shared) == 1:
        metric, n, judge, source = shared.pop()
        return f"{metric}, n={n}, judge: {judge}, data: {source}"
    return "; ".join(f"{method}: {metric}, n={n}, judge: {judge}, data: {source}"
                     for method, metric, n, judge, source in items)


def _column_items(results: Sequence[EvaluationResult],
                  column: Column) -> list[tuple[str, str, int, str, str]]:
    items = []
    for result in results:
        item = result.get(column.section, column.name)  # type: ignore[arg-type]
        if item is None:
            continue
        if column.judge is None:
            items.append((result.method, item.metric, item.n, item.judge, item.source))
        elif (entry := item.judge_metrics().get(column.judge)) is not None:
            items.append((result.method, entry["metric"], entry["n"], column.judge, item.source))
    return items


def judge_notes(results: Sequence[EvaluationResult], columns: Sequence[Column]) -> list[str]:
    """What each harm judge's columns measure, and its measured agreement with humans (and
    that of each over-refusal classifier)."""
    lines = []
    seen: dict[str, Column] = {}
    for column in columns:
        if column.judge is not None:
            seen.setdefault(column.judge, column)
    for judge, column in seen.items():
        kind = f"{kind_label(column.measures or 'compliance')} ({column.judge_label})"
        definition = DEFINITIONS.get(short_name(judge))
        lines.append(f"{kind}: {KIND_DEFINITIONS.get(column.measures or '', '?')}; judge "
                     f"{judge}" + (f" ({definition})" if definition else "") + ".")
        lines.append(describe_agreement(judge))
    refusal_judges = {item.judge for r in results for item in r.section("over_refusal")}
    lines += [describe_agreement(judge) for judge in sorted(refusal_judges - set(seen))]
    if any(c.measures == "compliance" for c in seen.values()):
        lines.append("A compliance rate is not an attack success rate: a refusal judge counts "
                     "any answer that does not refuse, harmful or not.")
    return lines


def footnotes(results: Sequence[EvaluationResult], columns: Sequence[Column]) -> list[str]:
    lines = judge_notes(results, columns)
    for column in columns:
        if column.name == MEAN:
            continue
        lines.append(f"{column.header}: {_describe(_column_items(results, column))}.")
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


def significance_notes(
    results: Sequence[EvaluationResult], columns: Sequence[Column],
    compared: list[tuple[EvaluationResult, list[Comparison | None]]],
) -> list[str]:
    """The mark, the tests, and per column the pairs used and the smallest detectable
    difference."""
    lines = [
        f"Difference vs base: row minus base row on the items both were scored on; * marks "
        f"p < {ALPHA:g} (two-sided, not corrected for the number of columns). Rates: exact "
        "McNemar test on the discordant pairs (an attack's items are its goals, counted when "
        f"any response is); means: paired bootstrap ({N_BOOT} resamples, seed 0; an attack "
        "mean resamples goals with all their attacks, Help. mean resamples within each "
        "benchmark). 'detects >=': the smallest difference found with 80% power at alpha "
        "0.05 (rates at a base rate of 0.5, the worst case; means of scores from the base "
        "row's spread); 'unmatched': samples without a partner in the other row; "
        "'undecided': pairs a judge left undecided. Both are left out of the test.",
    ]
    grouped: dict[str, list[str]] = {}
    for index, column in enumerate(columns):
        described = [(row.method, describe(cells[index], _digits(results, column)))
                     for row, cells in compared if cells[index] is not None]
        texts = {text for _, text in described}
        body = ("not tested (no per-sample records)" if not described else texts.pop()
                if len(texts) == 1 else "; ".join(f"{m}: {text}" for m, text in described))
        grouped.setdefault(body, []).append(column.header)
    lines += [f"Difference in {', '.join(headers)}: {body}." for body, headers in grouped.items()]
    return lines
