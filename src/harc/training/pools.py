"""HARC's prompt pools: read, deduplicated, sampled and split (extraction, training, validation).

Extraction set: the first ``extraction_size`` harmful and harmless prompts after a seeded
shuffle. They leave the training pools only if at least as many prompts remain for training
in both sets; otherwise they overlap training (``counts["extraction_overlaps_training"] = 1``,
logged). Validation prompts that also appear among the training prompts are dropped and counted.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

from harc.data import load_prompts
from harc.errors import DataError
from harc.training.config import DataSettings

logger = logging.getLogger(__name__)


def read_pool(spec: str, name: str, counts: dict[str, int]) -> list[str]:
    """The prompts of ``spec``, stripped, without duplicates or empty ones; counted."""
    texts = [prompt.text.strip() for prompt in load_prompts(spec)]
    unique = [t for t in dict.fromkeys(texts) if t]
    counts[f"{name}_prompts"] = len(unique)
    if len(unique) < len(texts):
        counts[f"{name}_duplicates_dropped"] = len(texts) - len(unique)
        logger.warning(
            "%s (%s): dropped %d duplicate or empty prompts", name, spec, len(texts) - len(unique)
        )
    require_nonempty(unique, f"{name} ({spec})")
    return unique


def limited(
    prompts: list[str], settings: DataSettings, seed: int, name: str, counts: dict[str, int]
) -> list[str]:
    """A seeded sample of ``settings.max_prompts`` prompts (all when unset); counted."""
    if settings.max_prompts is None or len(prompts) <= settings.max_prompts:
        return prompts
    counts[f"{name}_not_sampled"] = len(prompts) - settings.max_prompts
    return _shuffled(prompts, seed, f"limit:{name}")[: settings.max_prompts]


def _shuffled(items: Sequence[str], seed: int, stream: str) -> list[str]:
    shuffled = list(items)
    random.Random(f"{seed}:{stream}").shuffle(shuffled)
    return shuffled


def split_extraction(
    harmful: list[str], harmless: list[str], size: int, seed: int, counts: dict[str, int]
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(extraction harmful, extraction harmless, training harmful, training harmless)."""
    ext_harmful = _shuffled(harmful, seed, "extraction:harmful")[:size]
    ext_harmless = _shuffled(harmless, seed, "extraction:harmless")[:size]
    counts.update(extraction_harmful=len(ext_harmful), extraction_harmless=len(ext_harmless))
    held_out = len(harmful) - len(ext_harmful) >= len(ext_harmful) and len(harmless) - len(
        ext_harmless
    ) >= len(ext_harmless)
    if held_out:
        counts["extraction_overlaps_training"] = 0
        taken_harmful, taken_harmless = set(ext_harmful), set(ext_harmless)
        return (
            ext_harmful,
            ext_harmless,
            [p for p in harmful if p not in taken_harmful],
            [p for p in harmless if p not in taken_harmless],
        )
    counts["extraction_overlaps_training"] = 1
    logger.warning(
        "extraction set (%d harmful, %d harmless) overlaps the training prompts: holding it out "
        "would leave fewer prompts for training than for extraction (%d harmful, %d harmless "
        "in all). Use larger prompt sets or a smaller data.extraction_size for a clean hold-out.",
        len(ext_harmful),
        len(ext_harmless),
        len(harmful),
        len(harmless),
    )
    return ext_harmful, ext_harmless, list(harmful), list(harmless)


def validation_prompts(
    spec: str, name: str, taken: set[str], size: int, seed: int, counts: dict[str, int]
) -> list[str]:
    """A seeded sample of ``size`` prompts of ``spec`` that are not in ``taken``; counted."""
    texts = [t for t in dict.fromkeys(p.text.strip() for p in load_prompts(spec)) if t]
    kept = [t for t in texts if t not in taken]
    if len(kept) < len(texts):
        counts[f"{name}_overlap_dropped"] = len(texts) - len(kept)
        logger.warning(
            "%s (%s): dropped %d prompts that are also training prompts",
            name,
            spec,
            len(texts) - len(kept),
        )
    require_nonempty(kept, f"{name} ({spec}, after removing training prompts)")
    chosen = _shuffled(kept, seed, f"validation:{name}")[:size]
    if len(chosen) < size:
        logger.warning(
            "%s: only %d prompts available, fewer than validation_size=%d", name, len(chosen), size
        )
    counts[name] = len(chosen)
    return chosen


def require_nonempty(items: Sequence[object], name: str) -> None:
    """A DataError naming the set when ``items`` is empty."""
    if not items:
        raise DataError(f"the {name} set is empty")
