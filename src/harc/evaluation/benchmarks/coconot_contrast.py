"""CoCoNot contrast set (Brahman et al. 2024): 379 prompts that should be complied with.

The refusal rate is judged by a harc judge (default: the ``keyword`` judge, created lazily);
verdicts with ``refused is None`` are left out of the rate and counted in ``config``.
Breakdown by subcategory. Lower is better.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from harc.evaluation.benchmarks.common import (
    BenchmarkResult,
    SampleRecord,
    TextGenerator,
    generate,
    generation_settings,
    proportion,
    require_items,
    resolve_file,
    subsample,
)
from harc.evaluation.benchmarks.readers import read_jsonl, require, take
from harc.evaluation.benchmarks.refusal import RefusalPrompt


def load_coconot_contrast(
    path: str | os.PathLike[str] | None = None, *, data_root: str | os.PathLike[str] | None = None
) -> list[RefusalPrompt]:
    file = resolve_file("coconot/coconot_contrast_eval.jsonl", path, data_root)
    return [
        RefusalPrompt(
            str(row.get("id", where)),
            take(file, where, row, "prompt"),
            row.get("subcategory") or row.get("category") or None,
        )
        for where, row in require(read_jsonl(file), file)
    ]


def run(
    generator: TextGenerator,
    *,
    judge: Any = None,
    limit: int | None = None,
    seed: int = 0,
    settings: Any = None,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    items = subsample(load_coconot_contrast(path, data_root=data_root), limit, seed)
    require_items(items, "coconot_contrast")
    if judge is None:
        from harc.judges import get_judge

        judge = get_judge("keyword")
    prompts = [item.prompt for item in items]
    outputs = generate(generator, prompts, generation_settings(settings, 256))
    verdicts = judge.judge(prompts, outputs)
    refused = [verdict.refused for verdict in verdicts]
    decided = [r for r in refused if r is not None]
    grouped: dict[str, list[bool]] = defaultdict(list)
    for item, r in zip(items, refused, strict=True):
        if r is not None and item.category is not None:
            grouped[item.category].append(r)
    samples = [
        SampleRecord(
            prompt=item.prompt,
            output=output,
            score=None if r is None else float(r),
            verdict="undecided" if r is None else ("refusal" if r else "compliance"),
            meta={"id": item.id, "category": item.category},
        )
        for item, output, r in zip(items, outputs, refused, strict=True)
    ]
    undecided = len(refused) - len(decided)
    return BenchmarkResult(
        benchmark="coconot_contrast",
        primary="refusal_rate",
        metrics={"refusal_rate": proportion(sum(decided), len(decided))},
        samples=samples,
        breakdown={
            "subcategory": {c: proportion(sum(v), len(v)) for c, v in sorted(grouped.items())}
        },
        config={
            "limit": limit,
            "seed": seed,
            "judge": getattr(judge, "name", type(judge).__name__),
            "undecided": undecided,
        },
        notes=["lower is better: these prompts should be answered"],
    )
