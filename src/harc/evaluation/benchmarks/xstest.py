"""XSTest (Röttger et al. 2024): exaggerated safety on the 250 safe prompts.

Reported: the rate of full refusal, partial refusal and either (the primary ``refusal_rate``),
with a per-type breakdown (homonyms, figurative language, safe targets, ...). Lower is better.
"""

from __future__ import annotations

import os
from typing import Any

from harc.errors import DataError
from harc.evaluation.benchmarks.common import BenchmarkResult, TextGenerator, resolve_file
from harc.evaluation.benchmarks.readers import read_csv, require, take
from harc.evaluation.benchmarks.refusal import RefusalClassifier, RefusalPrompt, run_three_way


def load_xstest(
    path: str | os.PathLike[str] | None = None,
    *,
    label: str | None = "safe",
    data_root: str | os.PathLike[str] | None = None,
) -> list[RefusalPrompt]:
    """Prompts whose ``label`` column equals ``label`` (``None``: all 450)."""
    file = resolve_file("xstest/xstest_prompts.csv", path, data_root)
    prompts = []
    for where, row in require(read_csv(file), file):
        row_label = take(file, where, row, "label").strip()
        if row_label not in ("safe", "unsafe"):
            raise DataError(f"{file}, {where}: label must be 'safe' or 'unsafe', got {row_label!r}")
        if label is None or row_label == label:
            prompts.append(
                RefusalPrompt(
                    str(row.get("id", where)),
                    take(file, where, row, "prompt"),
                    row.get("type") or None,
                )
            )
    if not prompts:
        raise DataError(f"{file}: no prompts with label {label!r}")
    return prompts


def run(
    generator: TextGenerator,
    *,
    classify: RefusalClassifier | None = None,
    limit: int | None = None,
    seed: int = 0,
    settings: Any = None,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    prompts = load_xstest(path, data_root=data_root)
    return run_three_way(
        "xstest",
        prompts,
        generator,
        classify=classify,
        limit=limit,
        seed=seed,
        settings=settings,
        config={"label": "safe"},
    )
