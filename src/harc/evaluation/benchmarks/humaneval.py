"""HumanEval (Chen et al. 2021): pass@1 with one greedy completion per problem.

The chat model is asked for the complete function in a fenced code block. The code is taken
from the fenced block that defines the entry point (else the first Python block, else the raw
output). A full definition is appended after the problem prompt (so the prompt's imports and
helpers stay available and the new definition replaces the stub); anything else is treated as
the body continuing the prompt. The program ``prompt + code + test + check(entry_point)`` is run
only in a separate sandboxed process (:mod:`harc.evaluation.benchmarks.sandbox`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from harc.evaluation.benchmarks.sandbox import ExecutionResult, run_program

INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function, including its "
    "signature and any imports it needs, in a single ```python code block.\n\n"
)
_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON = {"python", "python3", "py", ""}


@dataclass(frozen=True)
class HumanEvalItem:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str


def load_humaneval(
    path: str | os.PathLike[str] | None = None, *, data_root: str | os.PathLike[str] | None = None
) -> list[HumanEvalItem]:
    file = resolve_file("humaneval/HumanEval.jsonl.gz", path, data_root)
    return [
        HumanEvalItem(
            *(
                take(file, where, row, key)
                for key in ("task_id", "prompt", "entry_point", "canonical_solution", "test")
            )
        )
        for where, row in require(read_jsonl(file), file)
    ]


def build_prompt(item: HumanEvalItem) -> str:
    return f"{INSTRUCTION}```python\n{item.prompt}```"


def extract_code(completion: str, entry_point: str) -> str:
    """The code in ``completion``: the best fenced block, or the raw text when there is none."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(completion)]
    if not blocks:
        return completion
    defines = [body for lang, body in blocks if lang in _PYTHON and _defines(body, entry_point)]
    python = [body for lang, body in blocks if lang in _PYTHON]
    return (defines or python or [blocks[0][1]])[0]


def _defines(code: str, entry_point: str) -> bool:
    return (
        re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE)
        is not None
    )


def assemble_program(item: HumanEvalItem, completion: str) -> str:
    code = extract_code(completion, item.entry_point)
    body = item.prompt + "\n" + code if _defines(code, item.entry_point) else item.prompt + code
    return f"{body}\n\n{item.test}\n\ncheck({item.entry_point})\n"


def check_completion(
    item: HumanEvalItem, completion: str, *, timeout: float = 5.0, memory_mb: int = 1024
) -> ExecutionResult:
    return run_program(assemble_program(item, completion), timeout=timeout, memory_mb=memory_mb)


def check_all(
    items: Sequence[HumanEvalItem],
    completions: Sequence[str],
    *,
    timeout: float = 5.0,
    memory_mb: int = 1024,
    workers: int = 4,
) -> list[ExecutionResult]:
    """Sandboxed results in input order; ``workers`` child processes run at a time."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(
            pool.map(
                lambda pair: check_completion(
                    pair[0], pair[1], timeout=timeout, memory_mb=memory_mb
                ),
                zip(items, completions, strict=True),
            )
        )


def run(
    generator: TextGenerator,
    *,
    limit: int | None = None,
    seed: int = 0,
    settings: Any = None,
    timeout: float = 5.0,
    memory_mb: int = 1024,
    workers: int = 4,
    path: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    items = subsample(load_humaneval(path, data_root=data_root), limit, seed)
    require_items(items, "humaneval")
    prompts = [build_prompt(item) for item in items]
    outputs = generate(generator, prompts, generation_settings(settings, 512))
    results = check_all(items, outputs, timeout=timeout, memory_mb=memory_mb, workers=workers)
    samples = [
        SampleRecord(
            prompt=prompt,
            output=output,
            score=float(result.passed),
            verdict=result.status,
            meta={"task_id": item.task_id, "stderr": result.stderr[-500:]},
        )
        for item, prompt, output, result in zip(items, prompts, outputs, results, strict=True)
    ]
    passed = sum(result.passed for result in results)
    return BenchmarkResult(
        benchmark="humaneval",
        primary="pass@1",
        metrics={"pass@1": proportion(passed, len(samples))},
        samples=samples,
        config={"limit": limit, "seed": seed, "timeout_s": timeout, "memory_mb": memory_mb},
        notes=["sampling is greedy unless settings say otherwise; pass@1 = fraction passing"],
    )
