"""Assemble HARC's training data: prompt pools, their answers, the extraction and validation sets.

Answers are looked up in this order, by exact prompt text (:mod:`harc.training.answers`): a
Circuit-Breakers-style file (``circuit_breakers``: refusal and harmful answer), a pairs file
(``pairs``: kinds refusal, harmful, helpful, compliant), then the model itself
(``self_supply``, through an :class:`~harc.training.supply.AnswerSupplier`). Without
self-supply, missing refusals or retain answers are a DataError; missing harmful answers are
allowed (``harmful_answer=None``, counted) as long as the extraction set keeps some.

The prompt pools, the extraction set and the validation sets are read and split by
:mod:`harc.training.pools`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from harc.io import atomic_path
from harc.training.answers import AnswerResolver, file_answers
from harc.training.config import DataSettings
from harc.training.pools import (
    limited,
    read_pool,
    require_nonempty,
    split_extraction,
    validation_prompts,
)

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
    harmful = limited(
        read_pool(settings.harmful, "harmful", counts), settings, seed, "harmful", counts
    )
    harmless = limited(
        read_pool(settings.harmless, "harmless", counts), settings, seed, "harmless", counts
    )
    pseudo = limited(
        read_pool(settings.pseudo_harmful, "pseudo_harmful", counts),
        settings,
        seed,
        "pseudo_harmful",
        counts,
    )

    ext_harmful, ext_harmless, train_harmful, train_harmless = split_extraction(
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
    require_nonempty(data.harmful, f"harmful training ({settings.harmful})")
    require_nonempty(data.harmless, f"harmless training ({settings.harmless})")
    require_nonempty(data.pseudo, f"pseudo-harmful training ({settings.pseudo_harmful})")
    require_nonempty(data.extraction.harmful_answers, "extraction harmful-answer")
    require_nonempty(data.extraction.refusals, "extraction refusal")
    require_nonempty(data.extraction.helpful, "extraction helpful-answer")

    taken = training_prompt_texts(data)
    data.validation_harmful = validation_prompts(
        settings.validation_harmful,
        "validation_harmful",
        taken,
        settings.validation_size,
        seed,
        counts,
    )
    data.validation_harmless = validation_prompts(
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

