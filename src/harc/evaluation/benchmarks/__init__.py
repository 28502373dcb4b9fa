"""Capability (MMLU, GSM8K, HumanEval, IFEval, MT-Bench) and over-refusal (XSTest, CoCoNot
contrast, OR-Bench-style tables) benchmarks.

Each benchmark module has a loader returning typed items, pure scoring functions, and
``run(...)`` returning a :class:`BenchmarkResult` (metrics with n and 95% intervals, per-sample
records). Data comes from ``data_root=`` or ``$HARC_DATA``; see :mod:`.registry` for names.
"""

from __future__ import annotations

from harc.evaluation.benchmarks.common import BenchmarkResult, Metric, SampleRecord
from harc.evaluation.benchmarks.registry import BenchmarkSpec, available_benchmarks, get_benchmark

__all__ = [
    "BenchmarkResult",
    "BenchmarkSpec",
    "Metric",
    "SampleRecord",
    "available_benchmarks",
    "get_benchmark",
]
