"""Shared pieces of the benchmark scorers: data location, subsampling, intervals, results.

Every benchmark returns a :class:`BenchmarkResult`: named :class:`Metric` values (value, n and a
95% interval), optional per-group breakdowns, and one :class:`SampleRecord` per scored item for
the JSON report.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from scipy.stats import binomtest

from harc.data.root import DATA_ENV, resolve_data_root
from harc.errors import DataError, HarcError

Z_95 = 1.959963984540054

T = TypeVar("T")


class TextGenerator(Protocol):
    """What the generation benchmarks need: ``harc.generation.Generator`` or a test fake."""

    def generate(self, prompts: Sequence[str], settings: Any = ...) -> list[str]: ...


@dataclass(frozen=True)
class Metric:
    value: float
    n: int
    ci_low: float
    ci_high: float
    method: str  # "wilson" for proportions, "normal" for means

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)


@dataclass(frozen=True)
class SampleRecord:
    prompt: str
    output: str
    score: float | None
    verdict: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchmarkResult:
    benchmark: str
    primary: str
    metrics: dict[str, Metric]
    samples: list[SampleRecord]
    breakdown: dict[str, dict[str, Metric]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.metrics[self.primary].value

    @property
    def n(self) -> int:
        return self.metrics[self.primary].n

    @property
    def ci(self) -> tuple[float, float]:
        return self.metrics[self.primary].ci

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root`` if given, else ``$HARC_DATA``; a DataError if neither names a directory."""
    path, _ = resolve_data_root(root)
    if path is None:
        raise DataError(f"no data directory: pass data_root= or set ${DATA_ENV}")
    if not path.is_dir():
        raise DataError(f"{path}: data directory not found")
    return path


def resolve_file(
    relative: str,
    path: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Path:
    """``path`` if given, else ``<data root>/<relative>``; missing or empty is a DataError."""
    file = Path(path) if path is not None else data_root(root) / relative
    if not file.is_file():
        raise DataError(f"{file}: file not found")
    if file.stat().st_size == 0:
        raise DataError(f"{file}: file is empty")
    return file


def subsample(items: Sequence[T], limit: int | None, seed: int = 0) -> list[T]:
    """A seeded random subset of ``limit`` items, kept in their original order."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 0:
        raise HarcError(f"limit must be >= 0, got {limit}")
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[index] for index in chosen]


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Two-sided Wilson score interval for ``successes`` of ``n`` at normal quantile ``z``
    (scipy's ``binomtest(...).proportion_ci(method="wilson")``); ``(0, 1)`` when ``n`` is 0.

    ``successes`` is a count; every caller passes an integer or a float sum of 0/1 scores, so it
    is rounded to the integer scipy requires.
    """
    if n <= 0:
        return (0.0, 1.0)
    ci = binomtest(round(successes), n).proportion_ci(
        confidence_level=math.erf(z / math.sqrt(2)), method="wilson"
    )
    return (float(ci.low), float(ci.high))


def proportion(successes: float, n: int) -> Metric:
    low, high = wilson_interval(successes, n)
    return Metric(successes / n if n else float("nan"), n, low, high, "wilson")


def mean_metric(values: Sequence[float]) -> Metric:
    """Mean with a normal-approximation 95% interval (sample standard deviation)."""
    n = len(values)
    if n == 0:
        return Metric(float("nan"), 0, float("nan"), float("nan"), "normal")
    mean = sum(values) / n
    if n == 1:
        return Metric(mean, 1, mean, mean, "normal")
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = Z_95 * sd / math.sqrt(n)
    return Metric(mean, n, mean - half, mean + half, "normal")


def generation_settings(settings: Any, max_new_tokens: int) -> Any:
    """``settings`` or, when None, greedy ``GenerationSettings(max_new_tokens=...)``."""
    if settings is not None:
        return settings
    from harc.generation import GenerationSettings

    return GenerationSettings(max_new_tokens=max_new_tokens)


def generate(generator: TextGenerator, prompts: Sequence[str], settings: Any) -> list[str]:
    outputs = list(generator.generate(list(prompts), settings))
    if len(outputs) != len(prompts):
        raise HarcError(f"generator returned {len(outputs)} outputs for {len(prompts)} prompts")
    return outputs


def require_items(items: Sequence[Any], source: object) -> None:
    if not items:
        raise DataError(f"{source}: no items to evaluate")
