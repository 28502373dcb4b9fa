"""The trade-off verdict: which rows dominate which, decided by paired tests on the same prompts.

The axes are the table's summary columns: each harm judge's mean over the attack columns
(lower is better), every over-refusal column (lower is better) and the capability mean (higher
is better). Row A *dominates* row B when, paired on the same prompts, A is significantly better
on at least one axis and significantly worse on none. Significant: the table's tests, with
Holm's correction over the pair's axes (family-wise error 0.05), since a verdict reads several
tests at once: uncorrected, a row equal to B on all five axes would "dominate" or "be
dominated" by chance up to about one time in five (1 − 0.95⁵ for independent tests). A better
point estimate that is not significant counts as a tie: at these sample sizes a verdict on it
would be a guess, so "not dominated" means "no row is shown to be better".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harc.evaluation.results import EvaluationResult
from harc.evaluation.significance import holm
from harc.report.columns import MEAN, Column, table_columns
from harc.report.paired import compare_column


@dataclass(frozen=True)
class Verdict:
    """``row`` against ``reference``: the axes (column headers) where ``row`` is significantly
    better or worse; ``untested``: axes without a paired test (a row lacks the samples)."""

    row: str
    reference: str
    better: tuple[str, ...]
    worse: tuple[str, ...]
    untested: tuple[str, ...]

    @property
    def dominates(self) -> bool:
        return bool(self.better) and not self.worse

    @property
    def dominated(self) -> bool:
        return bool(self.worse) and not self.better


def tradeoff_axes(columns: Sequence[Column]) -> list[Column]:
    return [c for c in columns if c.section == "over_refusal"
            or (c.section in ("harmfulness", "capability") and c.name == MEAN)]


def verdicts(results: Sequence[EvaluationResult], reference: str) -> list[Verdict]:
    """Every other row against the row named ``reference``; [] when it is absent."""
    names = [r.method for r in results]
    if reference not in names:
        return []
    ref = results[names.index(reference)]
    axes = tradeoff_axes(table_columns(results))
    found = []
    for row in results:
        if row is ref:
            continue
        better: list[str] = []
        worse: list[str] = []
        untested: list[str] = []
        tested = []
        for axis in axes:
            comparison = compare_column(ref, row, axis)
            if comparison is None:
                untested.append(axis.header)
            else:
                tested.append((axis, comparison))
        rejected = holm([comparison.p for _, comparison in tested])
        for (axis, comparison), significant in zip(tested, rejected, strict=True):
            if significant and comparison.difference != 0:
                improved = (comparison.difference > 0) == axis.higher_is_better
                (better if improved else worse).append(axis.header)
        found.append(Verdict(row.method, reference, tuple(better), tuple(worse),
                             tuple(untested)))
    return found


def render_verdicts(results: Sequence[EvaluationResult], reference: str) -> str:
    """Markdown lines, one per row, and who (if anyone) dominates ``reference``."""
    found = verdicts(results, reference)
    if not found:
        return ""
    lines = []
    for verdict in found:
        if verdict.dominates:
            head = f"**{verdict.row} dominates {reference}**"
        elif verdict.dominated:
            head = f"{verdict.row} is dominated by {reference}"
        else:
            head = f"{verdict.row} and {reference}: neither dominates"
        parts = [f"better on {', '.join(verdict.better) or 'nothing'}",
                 f"worse on {', '.join(verdict.worse) or 'nothing'}"]
        if verdict.untested:
            parts.append(f"untested: {', '.join(verdict.untested)}")
        lines.append(f"- {head} ({'; '.join(parts)})")
    over = [v.row for v in found if v.dominates]
    lines.append(f"- {reference} is dominated by: {', '.join(over)}" if over
                 else f"- {reference} is not dominated by any row (none is significantly "
                      "better on an axis without being significantly worse on another)")
    return "\n".join(lines)
