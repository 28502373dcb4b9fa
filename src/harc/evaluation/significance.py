"""Paired significance for two models scored on the same items.

* :func:`mcnemar`: the exact McNemar test on paired binary outcomes (two-sided exact binomial
  on the discordant pairs), with the paired difference of rates.
* :func:`paired_bootstrap`: a seeded paired bootstrap of a difference of means over paired
  per-item values (optionally resampling clusters of items together, and averaging stratum
  means with equal weights, as a mean over attacks or over benchmarks does).
* :func:`minimum_detectable_difference` (paired binary design) and
  :func:`minimum_detectable_shift` (paired means): the smallest difference a sample of ``n``
  pairs detects at level ``alpha`` with the given power.
* :func:`pair_samples`: match the per-sample records of two results by identity, counting
  what could not be matched rather than dropping it silently.

Rates and their unpaired intervals use :func:`harc.evaluation.benchmarks.common.wilson_interval`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy.stats import binomtest

from harc.errors import HarcError
from harc.evaluation.benchmarks.common import wilson_interval

ALPHA = 0.05
POWER = 0.8
WORST_CASE_RATE = 0.5

__all__ = [
    "ALPHA",
    "WORST_CASE_RATE",
    "BootstrapResult",
    "McNemarResult",
    "Pairing",
    "mcnemar",
    "minimum_detectable_difference",
    "minimum_detectable_shift",
    "pair_samples",
    "paired_bootstrap",
    "sample_key",
    "wilson_interval",
]


@dataclass(frozen=True)
class McNemarResult:
    """``n`` pairs; ``only_base``: pairs where only the base outcome is True, ``only_other``:
    only the other's; ``difference`` = rate(other) - rate(base) on the pairs; ``p`` two-sided."""

    n: int
    only_base: int
    only_other: int
    difference: float
    p: float
    test: str = "exact McNemar"


@dataclass(frozen=True)
class BootstrapResult:
    """``difference`` = statistic(other) - statistic(base) on the paired items; ``low``,
    ``high``: percentile interval; ``p``: two-sided bootstrap p-value; ``n`` paired items."""

    n: int
    difference: float
    low: float
    high: float
    p: float
    n_boot: int
    test: str = "paired bootstrap"


def mcnemar(base: Sequence[bool], other: Sequence[bool]) -> McNemarResult:
    """Exact McNemar test of paired binary outcomes (``base[i]`` and ``other[i]`` are one
    item). p = two-sided exact binomial test of the discordant pairs against 1/2; 1 when there
    are none."""
    if len(base) != len(other):
        raise HarcError(f"paired outcomes of different lengths: {len(base)} and {len(other)}")
    only_base = sum(1 for a, b in zip(base, other, strict=True) if a and not b)
    only_other = sum(1 for a, b in zip(base, other, strict=True) if b and not a)
    n = len(base)
    discordant = only_base + only_other
    p = 1.0 if discordant == 0 else float(binomtest(only_other, discordant, 0.5).pvalue)
    difference = (only_other - only_base) / n if n else math.nan
    return McNemarResult(n, only_base, only_other, difference, min(1.0, p))


def paired_bootstrap(
    base: Sequence[float],
    other: Sequence[float],
    *,
    clusters: Sequence[Hashable] | None = None,
    strata: Sequence[Hashable] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Paired bootstrap of ``mean(other - base)``.

    The statistic is the mean paired difference within each stratum, averaged over strata with
    equal weights (one stratum without ``strata``: the plain mean difference). Resampling:
    with ``clusters``, whole clusters are drawn with replacement (all their items, in every
    stratum, come together: e.g. a goal under every attack); without, items are drawn with
    replacement within each stratum. p = 2 * min(share of replicates <= 0, share >= 0), with
    one added to each count (so never 0), capped at 1: identical samples give p = 1.
    """
    if len(base) != len(other):
        raise HarcError(f"paired values of different lengths: {len(base)} and {len(other)}")
    n = len(base)
    if n == 0:
        return BootstrapResult(0, math.nan, math.nan, math.nan, 1.0, n_boot)
    diffs = np.asarray(other, dtype=float) - np.asarray(base, dtype=float)
    stratum_ids = _codes(strata if strata is not None else [0] * n, n)
    # Hand-written, not scipy.stats.bootstrap: clusters span strata and p needs the replicates.
    rng = np.random.default_rng(seed)
    point = float(np.mean([diffs[stratum_ids == s].mean() for s in np.unique(stratum_ids)]))
    if clusters is not None:
        replicates = _cluster_replicates(diffs, stratum_ids, _codes(clusters, n), n_boot, rng)
    else:
        replicates = _stratified_replicates(diffs, stratum_ids, n_boot, rng)
    replicates = replicates[~np.isnan(replicates)]
    if replicates.size == 0:
        return BootstrapResult(n, point, math.nan, math.nan, 1.0, n_boot)
    tail = (1 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    below = int(np.sum(replicates <= 0)) + 1
    above = int(np.sum(replicates >= 0)) + 1
    p = min(1.0, 2 * min(below, above) / (replicates.size + 1))
    return BootstrapResult(n, point, float(low), float(high), p, n_boot)


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down rejections: the family-wise error stays below ``alpha`` over all the
    tests together. (scipy has only false-discovery-rate corrections; a dominance verdict
    needs the family-wise kind, and statsmodels for five lines is not worth a dependency.)"""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, index in enumerate(order):
        if not p_values[index] < alpha / (len(p_values) - rank):
            break
        rejected[index] = True
    return rejected


def _codes(labels: Sequence[Hashable], n: int) -> np.ndarray:
    if len(labels) != n:
        raise HarcError(f"{len(labels)} labels for {n} paired values")
    index: dict[Hashable, int] = {}
    return np.asarray([index.setdefault(label, len(index)) for label in labels])


def _stratified_replicates(diffs: np.ndarray, strata: np.ndarray, n_boot: int,
                           rng: np.random.Generator) -> np.ndarray:
    means = []
    for stratum in np.unique(strata):
        values = diffs[strata == stratum]
        chunk = max(1, 2_000_000 // values.size)
        parts = [values[rng.integers(0, values.size, (min(chunk, n_boot - start), values.size))]
                 .mean(axis=1) for start in range(0, n_boot, chunk)]
        means.append(np.concatenate(parts))
    return np.mean(means, axis=0)


def _cluster_replicates(diffs: np.ndarray, strata: np.ndarray, clusters: np.ndarray,
                        n_boot: int, rng: np.random.Generator) -> np.ndarray:
    k, s = int(clusters.max()) + 1, int(strata.max()) + 1
    sums, counts = np.zeros((k, s)), np.zeros((k, s))
    np.add.at(sums, (clusters, strata), diffs)
    np.add.at(counts, (clusters, strata), 1.0)
    weights = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights @ sums) / (weights @ counts)
    return means.mean(axis=1)  # NaN where a replicate drew no item of some stratum


def _z(alpha: float, power: float) -> tuple[float, float]:
    normal = NormalDist()
    return normal.inv_cdf(1 - alpha / 2), normal.inv_cdf(power)


def minimum_detectable_difference(
    n: int, base_rate: float = WORST_CASE_RATE, alpha: float = ALPHA, power: float = POWER
) -> float:
    """Smallest difference of two paired rates that ``n`` pairs detect with the given power
    by a two-sided McNemar test at level ``alpha`` (``inf`` when no difference can be).

    Approximation: the normal approximation to McNemar's test (Connor 1987),
    ``n d^2 = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - d^2))^2``, solved for ``d``,
    with the discordance rate ``psi = 2 p (1 - p)`` at ``p = base_rate``: the discordance of
    two conditions whose outcomes are independent with equal rates. Correlated outcomes (the
    usual case: the same prompts, similar models) discord less, so this is conservative; it
    is largest at ``p = 0.5``, the worst case.
    """
    if n <= 0:
        return math.inf
    psi = 2 * base_rate * (1 - base_rate)
    if psi <= 0:
        return 0.0
    z_alpha, z_power = _z(alpha, power)

    def detectable(d: float) -> bool:
        needed = z_alpha * math.sqrt(psi) + z_power * math.sqrt(max(0.0, psi - d * d))
        return n * d * d >= needed**2

    high = math.sqrt(psi)
    if not detectable(high):
        return math.inf
    low = 0.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if detectable(middle) else (middle, high)
    return high


def minimum_detectable_shift(
    sd: float, n: int, alpha: float = ALPHA, power: float = POWER
) -> float:
    """Smallest shift of a paired mean that ``n`` pairs detect, for paired differences of
    standard deviation ``sd`` (normal approximation: ``(z_{1-alpha/2} + z_{power}) sd /
    sqrt(n)``). For two independent conditions of standard deviation ``s`` each, ``sd = s *
    sqrt(2)``, the analogue of ``psi = 2 p (1 - p)`` above."""
    if n <= 0:
        return math.inf
    z_alpha, z_power = _z(alpha, power)
    return (z_alpha + z_power) * sd / math.sqrt(n)


def sample_key(sample: Mapping[str, Any]) -> tuple[Any, ...]:
    """A sample's identity: goal, attack and prompt (and the turn of multi-turn items)."""
    meta = sample.get("meta") or {}
    turn = meta.get("turn") if isinstance(meta, Mapping) else None
    return (sample.get("goal"), sample.get("attack"), sample.get("prompt"), turn)


@dataclass
class Pairing:
    """``pairs``: (base sample, other sample) with the same key, in the base's order;
    ``unmatched_base``/``unmatched_other``: samples of each side with no partner."""

    pairs: list[tuple[Any, Any]] = field(default_factory=list)
    unmatched_base: int = 0
    unmatched_other: int = 0

    @property
    def unmatched(self) -> int:
        return self.unmatched_base + self.unmatched_other


def pair_samples(
    base_samples: Sequence[Any],
    other_samples: Sequence[Any],
    key: Callable[[Any], Hashable] = sample_key,
) -> Pairing:
    """Match samples of two results by ``key``. Samples sharing a key are paired in order;
    the rest are counted as unmatched (never silently dropped)."""
    waiting: dict[Hashable, list[Any]] = defaultdict(list)
    for sample in other_samples:
        waiting[key(sample)].append(sample)
    pairing = Pairing()
    for sample in base_samples:
        partners = waiting.get(key(sample))
        if partners:
            pairing.pairs.append((sample, partners.pop(0)))
        else:
            pairing.unmatched_base += 1
    pairing.unmatched_other = sum(len(rest) for rest in waiting.values())
    return pairing
