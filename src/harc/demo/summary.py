"""The demo report's summary table and before/after verdicts: each quantity for the base and
the HARC-tuned model, with the paired difference on the same prompts and its test, named by
what the judge measures (a compliance rate for a refusal judge, never called ASR)."""

from __future__ import annotations

from harc.document import Document
from harc.evaluation.results import EvaluationResult
from harc.judges.measured import describe_agreement
from harc.report import table_columns
from harc.report.columns import MEAN
from harc.report.paired import compare_column, difference_cell


def rate_name(result: EvaluationResult) -> str:
    """What the primary judge's attack rates are: compliance (refusal judge) or harmful (ASR)."""
    measures = result.judge_measures(result.harm_judge)
    return "harmful rate (ASR)" if measures == "harm" else "compliance rate"


def summary(doc: Document, base: EvaluationResult, tuned: EvaluationResult) -> None:
    doc.heading("Summary")
    rate = rate_name(base)
    columns = {(c.section, c.name): c for c in table_columns([base, tuned])
               if c.judge in (None, base.harm_judge)}

    def paired(section: str, name: str) -> str:
        column = columns.get((section, name))
        return difference_cell(compare_column(base, tuned, column)) if column else "–"

    rows = [[f"mean {rate} over attacks (lower is better)", f"{base.mean_asr:.2f}",
             f"{tuned.mean_asr:.2f}", paired("harmfulness", MEAN)]]
    for section, note in (("harmfulness", rate), ("over_refusal", "refusal rate"),
                          ("capability", "accuracy")):
        for before in base.section(section):
            after = tuned.get(section, before.name)
            if after is None:
                continue
            rows.append([f"{before.label} {note} (n={before.n})",
                         f"{before.value:.2f} [{before.ci_low:.2f}, {before.ci_high:.2f}]",
                         f"{after.value:.2f} [{after.ci_low:.2f}, {after.ci_high:.2f}]",
                         paired(section, before.name)])
    doc.table(["quantity", "base model", "HARC-tuned", "difference (paired)"], rows)
    doc.paragraph(f"Judge of every attack rate: **{base.harm_judge}**, which measures "
                  f"{base.judge_measures(base.harm_judge) or '-'}; "
                  f"{describe_agreement(base.harm_judge)} Brackets are 95% Wilson intervals; "
                  "the difference is HARC minus base on the same prompts, * p < 0.05 (exact "
                  "McNemar for rates, paired bootstrap for the mean; section 4 lists the "
                  "tests, pairs and the smallest difference each n can detect).")


def verdicts(base: EvaluationResult, tuned: EvaluationResult) -> list[str]:
    lines = [f"Mean {rate_name(base)} {base.mean_asr:.2f} -> {tuned.mean_asr:.2f} "
             f"({_direction(tuned.mean_asr - base.mean_asr, 'lower', 'higher')})."]
    for before in base.section("over_refusal"):
        after = tuned.get("over_refusal", before.name)
        if after is not None:
            change = after.value - before.value
            lines.append(f"{before.label} refusal {before.value:.2f} -> {after.value:.2f} "
                         f"(n={after.n}; {change * 100:+.0f} points)"
                         + (": over-refusal rose" if change > 0 else "") + ".")
    for before in base.section("capability"):
        after = tuned.get("capability", before.name)
        if after is not None:
            lines.append(f"{before.label} {before.metric} {before.value:.2f} -> "
                         f"{after.value:.2f} (n={after.n}).")
    return lines


def _direction(change: float, good: str, bad: str) -> str:
    if abs(change) < 1e-9:
        return "unchanged"
    return good if change < 0 else bad
