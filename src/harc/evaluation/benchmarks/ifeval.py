"""IFEval (Zhou et al. 2023): verifiable instruction following, strict and loose.

Strict: each instruction's checker runs on the response as is (an empty response follows
nothing). Loose, as in the paper: an instruction counts as followed if its checker passes on any
of eight variants: the response, with its first line removed, its last line removed, both, and
each of those with every ``*`` removed. Reported: prompt-level accuracy (all instructions of a
prompt followed) and instruction-level accuracy, each strict and loose.

An instruction id with no checker is scored as not followed and counted in
``config["unsupported_instructions"]``. Language-dependent checks (response language, English
all-caps / lowercase) use ``langdetect``, seeded as in the reference implementation.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harc.errors import DataError
from harc.evaluation.benchmarks import langid
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
from harc.evaluation.benchmarks.ifeval_checks import CHECKERS
from harc.evaluation.benchmarks.readers import read_jsonl, require, take


@dataclass(frozen=True)
class IFEvalItem:
    key: int
    prompt: str
    instruction_ids: tuple[str, ...]
    kwargs: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class IFEvalScore:
    strict: tuple[bool, ...]
    loose: tuple[bool, ...]
    unsupported: tuple[str, ...]

    @property
    def prompt_strict(self) -> bool:
        return all(self.strict)

    @property
    def prompt_loose(self) -> bool:
        return all(self.loose)


def load_ifeval(
    path: str | os.PathLike[str] | None = None, *, data_root: str | os.PathLike[str] | None = None
) -> list[IFEvalItem]:
    file = resolve_file("ifeval/input_data.jsonl", path, data_root)
    items = []
    for where, row in require(read_jsonl(file), file):
        ids = take(file, where, row, "instruction_id_list", list)
        kwargs = take(file, where, row, "kwargs", list)
        if len(ids) != len(kwargs) or not all(isinstance(k, dict) for k in kwargs):
            raise DataError(
                f"{file}, {where}: instruction_id_list and kwargs (objects) differ in length"
            )
        key = row.get("key", len(items))
        items.append(
            IFEvalItem(
                key,
                take(file, where, row, "prompt"),
                tuple(ids),
                tuple({k: v for k, v in kw.items() if v is not None} for kw in kwargs),
            )
        )
    return items


def loose_variants(response: str) -> list[str]:
    lines = response.split("\n")
    variants = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return variants + [variant.replace("*", "") for variant in variants]


def check_instruction(instruction_id: str, kwargs: dict[str, Any], response: str) -> bool:
    if not response.strip():
        return False
    return bool(CHECKERS[instruction_id](response, **kwargs))


def score_response(item: IFEvalItem, response: str) -> IFEvalScore:
    strict, loose, unsupported = [], [], []
    variants = loose_variants(response)
    for instruction_id, kwargs in zip(item.instruction_ids, item.kwargs, strict=True):
        if instruction_id not in CHECKERS:
            unsupported.append(instruction_id)
            strict.append(False)
            loose.append(False)
            continue
        strict.append(check_instruction(instruction_id, kwargs, response))
        loose.append(any(check_instruction(instruction_id, kwargs, v) for v in variants))
    return IFEvalScore(tuple(strict), tuple(loose), tuple(unsupported))


def aggregate(items: Sequence[IFEvalItem], scores: Sequence[IFEvalScore]) -> tuple[dict, dict]:
    """Metrics and a per-instruction-type breakdown (strict and loose)."""
    n = len(scores)
    flat_strict = [ok for score in scores for ok in score.strict]
    flat_loose = [ok for score in scores for ok in score.loose]
    metrics = {
        "prompt_level_strict": proportion(sum(s.prompt_strict for s in scores), n),
        "prompt_level_loose": proportion(sum(s.prompt_loose for s in scores), n),
        "instruction_level_strict": proportion(sum(flat_strict), len(flat_strict)),
        "instruction_level_loose": proportion(sum(flat_loose), len(flat_loose)),
    }
    per_type: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for item, score in zip(items, scores, strict=True):
        for instruction_id, s, lo in zip(
            item.instruction_ids, score.strict, score.loose, strict=True
        ):
            per_type[instruction_id].append((s, lo))
    breakdown = {
        "instruction_strict": {
            k: proportion(sum(s for s, _ in v), len(v)) for k, v in sorted(per_type.items())
        },
        "instruction_loose": {
            k: proportion(sum(lo for _, lo in v), len(v)) for k, v in sorted(per_type.items())
        },
    }
    return metrics, breakdown


def run(
    generator: TextGenerator,
    *,
    limit: int | None = None,
    seed: int = 0,
    settings: Any = None,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    items = subsample(load_ifeval(path, data_root=data_root), limit, seed)
    require_items(items, "ifeval")
    outputs = generate(
        generator, [item.prompt for item in items], generation_settings(settings, 1024)
    )
    scores = [score_response(item, output) for item, output in zip(items, outputs, strict=True)]
    metrics, breakdown = aggregate(items, scores)
    samples = [
        SampleRecord(
            prompt=item.prompt,
            output=output,
            score=float(score.prompt_strict),
            verdict="followed" if score.prompt_strict else "not_followed",
            meta={
                "key": item.key,
                "instruction_ids": list(item.instruction_ids),
                "strict": list(score.strict),
                "loose": list(score.loose),
            },
        )
        for item, output, score in zip(items, outputs, scores, strict=True)
    ]
    unsupported = Counter(i for score in scores for i in score.unsupported)
    notes = []
    if unsupported:
        notes.append(f"{sum(unsupported.values())} instructions had no checker and count as failed")
    return BenchmarkResult(
        benchmark="ifeval",
        primary="prompt_level_strict",
        metrics=metrics,
        samples=samples,
        breakdown=breakdown,
        notes=notes,
        config={
            "limit": limit,
            "seed": seed,
            "language_backend": langid.BACKEND,
            "unsupported_instructions": dict(unsupported),
        },
    )
