"""Paired tests of a row against the base row, per table column, on the same prompts.

* an attack column: the exact McNemar test on the goals both rows were judged on (a goal's
  outcome: any of its responses counted by the column's judge), pairing goals by name;
* an attack mean: the paired bootstrap over goal x attack items, resampling goals (each with
  all its attacks) and averaging the attacks' mean differences, as the mean column does;
* a benchmark: McNemar when every per-sample score is 0/1, else the paired bootstrap of the
  scores, pairing samples by prompt; the capability mean: the paired bootstrap of the
  benchmarks' normalised scores, resampled within each benchmark.

Samples of one row without a partner in the other, and pairs either judge left undecided,
are counted, never silently dropped. The smallest detectable difference is for 80% power at
alpha 0.05: rates at a base rate of 0.5 (the worst case), means of scores from the base
row's spread; see :mod:`harc.evaluation.significance`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from harc.evaluation.judging import goal_outcomes
from harc.evaluation.results import EvaluationResult, SectionResult
from harc.evaluation.significance import (
    ALPHA,
    mcnemar,
    minimum_detectable_difference,
    minimum_detectable_shift,
    pair_samples,
    paired_bootstrap,
)
from harc.report.columns import MEAN, Column

N_BOOT = 2000
SEED = 0


@dataclass(frozen=True)
class Comparison:
    """``difference`` = other - base on the paired items, in the column's units."""

    difference: float
    p: float
    test: str
    n: int
    unmatched: int
    undecided: int
    detectable: float

    @property
    def significant(self) -> bool:
        return self.p < ALPHA


def compare_column(base: EvaluationResult, other: EvaluationResult,
                   column: Column) -> Comparison | None:
    """The paired comparison of ``other`` against ``base`` in ``column``; None when either
    row lacks the column or its per-sample records."""
    if column.section == "harmfulness":
        assert column.judge is not None
        if column.name == MEAN:
            return _attack_mean(base, other, column.judge)
        pair = _items(base, other, column)
        return None if pair is None else _attack(*pair, column.judge)
    if column.name == MEAN:
        return _capability_mean(base, other)
    pair = _items(base, other, column)
    return None if pair is None else _benchmark(*pair)


def base_index(results: Sequence[EvaluationResult], base: str | None = None) -> int:
    """The base row: the one named ``base``, else one named "base", else the first."""
    names = [r.method for r in results]
    for wanted in (base, "base"):
        if wanted is not None and wanted in names:
            return names.index(wanted)
    return 0


def _items(base: EvaluationResult, other: EvaluationResult,
           column: Column) -> tuple[SectionResult, SectionResult] | None:
    a = base.get(column.section, column.name)  # type: ignore[arg-type]
    b = other.get(column.section, column.name)  # type: ignore[arg-type]
    return (a, b) if a is not None and b is not None and a.samples and b.samples else None


def _goal_pairs(a: SectionResult, b: SectionResult,
                judge: str) -> tuple[list[tuple[str, bool, bool]], int, int]:
    """(goal, base outcome, other outcome) of decided goal pairs; unmatched; undecided."""
    pairing = pair_samples(list(goal_outcomes(a.samples, judge).items()),
                           list(goal_outcomes(b.samples, judge).items()), key=lambda g: g[0])
    decided = [(x[0], bool(x[1]), bool(y[1])) for x, y in pairing.pairs
               if x[1] is not None and y[1] is not None]
    return decided, pairing.unmatched, len(pairing.pairs) - len(decided)


def _attack(a: SectionResult, b: SectionResult, judge: str) -> Comparison:
    pairs, unmatched, undecided = _goal_pairs(a, b, judge)
    test = mcnemar([x for _, x, _ in pairs], [y for _, _, y in pairs])
    return Comparison(test.difference, test.p, test.test, test.n, unmatched, undecided,
                      minimum_detectable_difference(test.n))


def _attack_mean(base: EvaluationResult, other: EvaluationResult,
                 judge: str) -> Comparison | None:
    rows: list[tuple[str, str, bool, bool]] = []
    unmatched = undecided = 0
    for a in base.section("harmfulness"):
        b = other.get("harmfulness", a.name)
        if b is None or not a.samples or not b.samples:
            continue
        pairs, lost, open_ = _goal_pairs(a, b, judge)
        rows += [(a.name, goal, x, y) for goal, x, y in pairs]
        unmatched, undecided = unmatched + lost, undecided + open_
    if not rows:
        return None
    test = paired_bootstrap([float(x) for *_, x, _ in rows], [float(y) for *_, y in rows],
                            strata=[r[0] for r in rows], clusters=[r[1] for r in rows],
                            n_boot=N_BOOT, seed=SEED)
    return Comparison(test.difference, test.p, test.test, test.n, unmatched, undecided,
                      minimum_detectable_difference(test.n))


def _scores(a: SectionResult, b: SectionResult) -> tuple[list[float], list[float], int, int]:
    pairing = pair_samples(a.samples, b.samples)
    scored = [(x["score"], y["score"]) for x, y in pairing.pairs
              if x.get("score") is not None and y.get("score") is not None]
    return ([float(x) for x, _ in scored], [float(y) for _, y in scored], pairing.unmatched,
            len(pairing.pairs) - len(scored))


def _binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def _benchmark(a: SectionResult, b: SectionResult) -> Comparison:
    xs, ys, unmatched, undecided = _scores(a, b)
    if _binary(xs) and _binary(ys):
        test = mcnemar([x == 1.0 for x in xs], [y == 1.0 for y in ys])
        return Comparison(test.difference, test.p, test.test, test.n, unmatched, undecided,
                          minimum_detectable_difference(test.n))
    boot = paired_bootstrap(xs, ys, n_boot=N_BOOT, seed=SEED)
    return Comparison(boot.difference, boot.p, boot.test, boot.n, unmatched, undecided,
                      minimum_detectable_shift(_spread(xs) * math.sqrt(2), boot.n))


def _spread(values: Sequence[float], binary: bool = False) -> float:
    if binary:
        return 0.5  # the standard deviation of a 0/1 outcome at rate 0.5, the worst case
    return statistics.stdev(values) if len(values) > 1 else math.nan


def _capability_mean(base: EvaluationResult, other: EvaluationResult) -> Comparison | None:
    xs: list[float] = []
    ys: list[float] = []
    strata: list[str] = []
    unmatched = undecided = 0
    variance = 0.0
    benchmarks = 0
    for a in base.section("capability"):
        b = other.get("capability", a.name)
        if b is None or not a.samples or not b.samples:
            continue
        x, y, lost, open_ = _scores(a, b)
        unmatched, undecided = unmatched + lost, undecided + open_
        if not x:
            continue
        xs += [v / a.scale for v in x]
        ys += [v / a.scale for v in y]
        strata += [a.name] * len(x)
        spread = _spread([v / a.scale for v in x], _binary(x) and _binary(y))
        variance += 2 * spread**2 / len(x)
        benchmarks += 1
    if not xs:
        return None
    boot = paired_bootstrap(xs, ys, strata=strata, n_boot=N_BOOT, seed=SEED)
    detectable = minimum_detectable_shift(math.sqrt(variance) / benchmarks, 1)
    return Comparison(boot.difference, boot.p, boot.test, boot.n, unmatched, undecided,
                      detectable)


def difference_cell(comparison: Comparison | None, digits: int = 2) -> str:
    """``+0.12* (p=0.003)``; ``–`` without a comparison."""
    if comparison is None or math.isnan(comparison.difference):
        return "–"
    mark = "*" if comparison.significant else ""
    p = "p<0.001" if comparison.p < 0.001 else f"p={comparison.p:.3f}"
    return f"{comparison.difference:+.{digits}f}{mark} ({p})"


def describe(comparison: Comparison, digits: int = 2) -> str:
    """``exact McNemar, n paired=20, 2 unmatched; detects >= 0.42``."""
    parts = [f"{comparison.test}, n paired={comparison.n}"]
    if comparison.unmatched:
        parts.append(f"{comparison.unmatched} unmatched")
    if comparison.undecided:
        parts.append(f"{comparison.undecided} undecided")
    detectable = ("no difference detectable" if math.isinf(comparison.detectable)
                  or math.isnan(comparison.detectable)
                  else f"detects >= {comparison.detectable:.{digits}f}")
    return ", ".join(parts) + f"; {detectable}"


def summary(results: Sequence[EvaluationResult], columns: Sequence[Column],
            base: str | None = None) -> list[tuple[EvaluationResult, list[Comparison | None]]]:
    """Each non-base row with its comparison per column."""
    index = base_index(results, base)
    return [(row, [compare_column(results[index], row, c) for c in columns])
            for i, row in enumerate(results) if i != index]
