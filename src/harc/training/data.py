"""Assemble HARC's training data: prompt pools, their answers, the extraction and validation sets.

Answers are looked up in this order, by exact prompt text (:mod:`harc.training.answers`): a
Circuit-Breakers-style file (``circuit_breakers``: refusal and harmful answer), a pairs file
(``pairs``: kinds refusal, harmful, helpful, compliant), then the model itself
(``self_supply``, through an :class:`~harc.training.supply.AnswerSupplier`). Without
self-supply, missing refusals or retain answers are a DataError; missing harmful answers are
allowed (``harmful_answer=None``, counted) as long as the extraction set keeps some.

Extraction set: the first ``extraction_size`` harmful and harmless prompts after a seeded
shuffle. They leave the training pools only if at least as many prompts remain for training
in both sets; otherwise they overlap training (``counts["extraction_overlaps_training"] = 1``,
logged). Validation prompts that also appear among the training prompts are dropped and counted.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from harc.data import load_prompts
from harc.errors import DataError
from harc.io import atomic_path
from harc.training.answers import AnswerResolver, file_answers
from harc.training.config import DataSettings

if TYPE_CHECKING:
    from harc.training.supply import AnswerSupplier

logger = logging.getLogger(__name__)

ANSWERS_FILE = "training_answers.jsonl"


@dataclass
class HarmfulExample:
    prompt: str
    refusal: str
    harmful_answer: str | None
    provenance: dict[str, str]  # {"refusal": ..., "harmful_answer": ...}


@dataclass
class RetainExample:
    prompt: str
    answer: str
    kind: Literal["harmless", "pseudo_harmful"]
    provenance: str


@dataclass
class ExtractionSet:
    """Prompts for the prompt-side directions and (prompt, answer) pairs for the response side."""

    harmful: list[str]
    harmless: list[str]
    harmful_answers: list[tuple[str, str]]
    refusals: list[tuple[str, str]]
    helpful: list[tuple[str, str]]


@dataclass
class TrainingData:
    harmful: list[HarmfulExample]
    harmless: list[RetainExample]
    pseudo: list[RetainExample]
    extraction: ExtractionSet
    validation_harmful: list[str]
    validation_harmless: list[str]
    counts: dict[str, int] = field(default_factory=dict)


def load_training_data(
    settings: DataSettings, *, supplier: AnswerSupplier | None, seed: int
) -> TrainingData:
    """Load prompts and answers per ``settings`` (see the module docstring)."""
    counts: dict[str, int] = {}
    harmful = _limited(
        _prompts(settings.harmful, "harmful", counts), settings, seed, "harmful", counts
    )
    harmless = _limited(
        _prompts(settings.harmless, "harmless", counts), settings, seed, "harmless", counts
    )
    pseudo = _limited(
        _prompts(settings.pseudo_harmful, "pseudo_harmful", counts),
        settings,
        seed,
        "pseudo_harmful",
        counts,
    )

    ext_harmful, ext_harmless, train_harmful, train_harmless = _split_extraction(
        harmful, harmless, settings.extraction_size, seed, counts
    )
    if supplier is not None and settings.self_supply:
        supplier.set_extraction(ext_harmful, ext_harmless)

    files = file_answers(settings, counts)
    resolver = AnswerResolver(settings, supplier, counts)
    refusals = resolver.answers(harmful, files["refusal"], "refusal", "harmful", required=True)
    harmful_answers = resolver.answers(
        harmful, files["harmful"], "harmful_answer", "harmful", required=False
    )
    helpful = resolver.answers(
        harmless, {**files["compliant"], **files["helpful"]}, "helpful", "harmless", required=True
    )
    compliant = resolver.answers(
        pseudo,
        {**files["helpful"], **files["compliant"]},
        "compliant",
        "pseudo_harmful",
        required=True,
    )

    data = TrainingData(
        harmful=[
            HarmfulExample(
                p,
                refusals[p][0],
                harmful_answers.get(p, (None, ""))[0],
                {
                    "refusal": refusals[p][1],
                    "harmful_answer": harmful_answers.get(p, (None, "none"))[1],
                },
            )
            for p in train_harmful
            if p in refusals
        ],
        harmless=[
            RetainExample(p, helpful[p][0], "harmless", helpful[p][1])
            for p in train_harmless
            if p in helpful
        ],
        pseudo=[
            RetainExample(p, compliant[p][0], "pseudo_harmful", compliant[p][1])
            for p in pseudo
            if p in compliant
        ],
        extraction=ExtractionSet(
            harmful=ext_harmful,
            harmless=ext_harmless,
            harmful_answers=[
                (p, harmful_answers[p][0]) for p in ext_harmful if p in harmful_answers
            ],
            refusals=[(p, refusals[p][0]) for p in ext_harmful if p in refusals],
            helpful=[(p, helpful[p][0]) for p in ext_harmless if p in helpful],
        ),
        validation_harmful=[],
        validation_harmless=[],
        counts=counts,
    )
    _require(data.harmful, f"harmful training ({settings.harmful})")
    _require(data.harmless, f"harmless training ({settings.harmless})")
    _require(data.pseudo, f"pseudo-harmful training ({settings.pseudo_harmful})")
    _require(data.extraction.harmful_answers, "extraction harmful-answer")
    _require(data.extraction.refusals, "extraction refusal")
    _require(data.extraction.helpful, "extraction helpful-answer")

    taken = training_prompt_texts(data)
    data.validation_harmful = _validation(
        settings.validation_harmful,
        "validation_harmful",
        taken,
        settings.validation_size,
        seed,
        counts,
    )
    data.validation_harmless = _validation(
        settings.validation_harmless,
        "validation_harmless",
        taken,
        settings.validation_size,
        seed,
        counts,
    )
    counts.update(
        train_harmful=len(data.harmful),
        train_harmless=len(data.harmless),
        train_pseudo=len(data.pseudo),
        extraction_harmful_answers=len(data.extraction.harmful_answers),
        extraction_refusals=len(data.extraction.refusals),
        extraction_helpful=len(data.extraction.helpful),
    )
    logger.info("training data: %s", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return data


def training_prompt_texts(data: TrainingData) -> set[str]:
    """Every prompt the run trains or extracts directions on, for decontaminating evaluations."""
    texts = {example.prompt for example in data.harmful}
    texts.update(example.prompt for example in (*data.harmless, *data.pseudo))
    texts.update(data.extraction.harmful)
    texts.update(data.extraction.harmless)
    return texts


def write_training_answers(data: TrainingData, out_dir: str | Path) -> Path:
    """Every training answer with its provenance, one JSON line each, in ``out_dir``."""
    target = Path(out_dir) / ANSWERS_FILE
    with atomic_path(target) as tmp:
        tmp.write_text(training_answers_text(data), encoding="utf-8")
    return target


def training_answers_text(data: TrainingData) -> str:
    """The JSON Lines text of :func:`write_training_answers`."""
    rows: list[dict[str, object]] = []
    for example in data.harmful:
        rows.append(
            {
                "set": "harmful",
                "prompt": example.prompt,
                "kind": "refusal",
                "response": example.refusal,
                "provenance": example.provenance["refusal"],
            }
        )
        if example.harmful_answer is not None:
            rows.append(
                {
                    "set": "harmful",
                    "prompt": example.prompt,
                    "kind": "harmful",
                    "response": example.harmful_answer,
                    "provenance": example.provenance["harmful_answer"],
                }
            )
    for example in (*data.harmless, *data.pseudo):
        rows.append(
            {
                "set": example.kind,
                "prompt": example.prompt,
                "kind": "helpful" if example.kind == "harmless" else "compliant",
                "response": example.answer,
                "provenance": example.provenance,
            }
        )
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _prompts(spec: str, name: str, counts: dict[str, int]) -> list[str]:
    texts = [prompt.text.strip() for prompt in load_prompts(spec)]
    unique = [t for t in dict.fromkeys(texts) if t]
    counts[f"{name}_prompts"] = len(unique)
    if len(unique) < len(texts):
        counts[f"{name}_duplicates_dropped"] = len(texts) - len(unique)
        logger.warning(
            "%s (%s): dropped %d duplicate or empty prompts", name, spec, len(texts) - len(unique)
        )
    _require(unique, f"{name} ({spec})")
    return unique


def _limited(
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


def _split_extraction(
    harmful: list[str], harmless: list[str], size: int, seed: int, counts: dict[str, int]
) -> tuple[list[str], list[str], list[str], list[str]]:
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


def _validation(
    spec: str, name: str, taken: set[str], size: int, seed: int, counts: dict[str, int]
) -> list[str]:
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
    _require(kept, f"{name} ({spec}, after removing training prompts)")
    chosen = _shuffled(kept, seed, f"validation:{name}")[:size]
    if len(chosen) < size:
        logger.warning(
            "%s: only %d prompts available, fewer than validation_size=%d", name, len(chosen), size
        )
    counts[name] = len(chosen)
    return chosen


def _require(items: Sequence[object], name: str) -> None:
    if not items:
        raise DataError(f"the {name} set is empty")
