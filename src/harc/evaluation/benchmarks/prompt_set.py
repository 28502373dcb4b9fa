"""Refusal rate on any ``load_prompts`` set that should be answered (e.g. the built-in
held-out harmless prompts ``builtin:harmless:heldout``): full / partial refusal rate, as for
XSTest. ``source`` names the set; it is read as given, never replaced by a fallback."""

from __future__ import annotations

import os
from typing import Any

from harc.errors import DataError
from harc.evaluation.benchmarks.common import BenchmarkResult, TextGenerator
from harc.evaluation.benchmarks.refusal import RefusalClassifier, RefusalPrompt, run_three_way

DEFAULT_SOURCE = "builtin:harmless:heldout"


def load_prompt_set(
    source: str = DEFAULT_SOURCE, *, data_root: str | os.PathLike[str] | None = None,
) -> list[RefusalPrompt]:
    from harc.data import load_prompts

    prompts = [RefusalPrompt(p.id or str(i), p.text, p.category)
               for i, p in enumerate(load_prompts(source))]
    if not prompts:
        raise DataError(f"{source}: no prompts")
    return prompts


def run(
    generator: TextGenerator,
    *,
    source: str = DEFAULT_SOURCE,
    classify: RefusalClassifier | None = None,
    limit: int | None = None,
    seed: int = 0,
    settings: Any = None,
    data_root: str | os.PathLike[str] | None = None,
) -> BenchmarkResult:
    return run_three_way("prompt_set", load_prompt_set(source), generator, classify=classify,
                         limit=limit, seed=seed, settings=settings, config={"source": source})
