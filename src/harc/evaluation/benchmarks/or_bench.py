"""Generic over-refusal benchmark: any CSV / JSONL / JSON table of should-answer prompts.

Meant for OR-Bench (Cui et al. 2024; e.g. ``or-bench-hard-1k.csv`` with ``prompt`` and
``category`` columns, not shipped with the shared data) but reads any table. The prompt column
is ``prompt_column`` or the first of :data:`PROMPT_COLUMNS` present; the optional category
column likewise. Scored like XSTest with a three-way refusal classifier. Lower is better.
"""

from __future__ import annotations

import os
from typing import Any

from harc.errors import DataError
from harc.evaluation.benchmarks.common import BenchmarkResult, TextGenerator, resolve_file
from harc.evaluation.benchmarks.readers import read_table, require, take
from harc.evaluation.benchmarks.refusal import RefusalClassifier, RefusalPrompt, run_three_way

DEFAULT_FILE = "or_bench/or-bench-hard-1k.csv"
PROMPT_COLUMNS = ("prompt", "instruction", "question", "goal", "text", "bad_q")
CATEGORY_COLUMNS = ("category", "type", "subcategory")


def load_prompt_table(
    path: str | os.PathLike[str] | None = None,
    *,
    prompt_column: str | None = None,
    category_column: str | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> list[RefusalPrompt]:
    file = resolve_file(DEFAULT_FILE, path, data_root)
    rows = require(read_table(file), file)
    columns = set(rows[0][1])
    prompt_key = prompt_column or next((c for c in PROMPT_COLUMNS if c in columns), None)
    if prompt_key is None or prompt_key not in columns:
        raise DataError(
            f"{file}: no prompt column (looked for {prompt_column or PROMPT_COLUMNS}; "
            f"found {sorted(columns)})"
        )
    category_key = category_column or next((c for c in CATEGORY_COLUMNS if c in columns), None)
    if category_column is not None and category_column not in columns:
        raise DataError(f"{file}: no column {category_column!r}")
    return [
        RefusalPrompt(
            str(row.get("id", where)),
            take(file, where, row, prompt_key),
            str(row[category_key]) if category_key and row.get(category_key) else None,
        )
        for where, row in rows
    ]


def run(
    generator: TextGenerator,
    *,
    path: str | os.PathLike[str] | None = None,
    prompt_column: str | None = None,
    category_column: str | None = None,
    classify: RefusalClassifier | None = None,
    limit: int | None = None,
    seed: int = 0,
    settings: Any = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    prompts = load_prompt_table(
        path, prompt_column=prompt_column, category_column=category_column, data_root=data_root
    )
    return run_three_way(
        "or_bench",
        prompts,
        generator,
        classify=classify,
        limit=limit,
        seed=seed,
        settings=settings,
        config={"source": str(path or DEFAULT_FILE)},
    )
