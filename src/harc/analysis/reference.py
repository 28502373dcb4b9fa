"""Reference answers for the response directions: harmful (complying) answers, refusals and
helpful answers. From a pairs file when given, else written by the model itself through
:class:`~harc.training.supply.AnswerSupplier` (refusal-direction ablation for harmful answers).
The pairs used are written to ``reference_pairs.jsonl``, so another run (e.g. with a HARC
adapter) can measure its residuals on the very same texts with ``--pairs``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harc.analysis.errors import AnalysisError
from harc.analysis.response import REFERENCE_KINDS
from harc.data import load_pairs, load_prompts
from harc.directions import DirectionSet
from harc.io import atomic_path
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat

if TYPE_CHECKING:
    from harc.analysis.job import AnalysisConfig

PAIRS_FILE = "reference_pairs.jsonl"


@dataclass
class ReferenceAnswers:
    pairs: dict[str, list[tuple[str, str]]]
    source: str
    provenance: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "n": {k: len(v) for k, v in self.pairs.items()},
                "counts": self.counts}


def reference_answers(
    loaded: LoadedModel, config: AnalysisConfig, chat: ChatFormat, directions: DirectionSet,
    activations: dict[str, torch.Tensor] | None, key: str, out: Path, *, progress: bool = True,
) -> ReferenceAnswers:
    if config.pairs:
        result = _from_file(config.pairs, config.n_reference, config.seed)
    else:
        result = _self_supplied(loaded, config, chat, directions, activations, key, progress)
    _write(result, out / PAIRS_FILE)
    return result


def _from_file(path: str, limit: int, seed: int) -> ReferenceAnswers:
    by_kind: dict[str, list[tuple[str, str]]] = {kind: [] for kind in REFERENCE_KINDS}
    for pair in load_pairs(path):
        if pair.kind in by_kind and pair.response.strip():
            by_kind[pair.kind].append((pair.prompt, pair.response))
    missing = [kind for kind, items in by_kind.items() if not items]
    if missing:
        raise AnalysisError(f"{path}: no pairs of kind {', '.join(missing)} (the response "
                            "analysis needs harmful, refusal and helpful pairs)")
    rng = random.Random(seed)
    pairs = {kind: items if len(items) <= limit else rng.sample(items, limit)
             for kind, items in by_kind.items()}
    return ReferenceAnswers(pairs, f"pairs file {path}",
                            {kind: ["file"] * len(items) for kind, items in pairs.items()})


def _self_supplied(
    loaded: LoadedModel, config: AnalysisConfig, chat: ChatFormat, directions: DirectionSet,
    activations: dict[str, torch.Tensor] | None, key: str, progress: bool,
) -> ReferenceAnswers:
    from harc.training.config import DataSettings
    from harc.training.supply import AnswerSupplier

    harmful = [p.text for p in load_prompts(config.direction_harmful)]
    harmless = [p.text for p in load_prompts(config.direction_harmless)]
    supplier = AnswerSupplier(
        loaded.model, loaded.tokenizer,
        settings=DataSettings(supply_max_new_tokens=config.response_tokens),
        model_name=key, chat=chat, directions=directions, activations=activations,
        batch_size=config.batch_size, progress=progress)
    limit = config.max_direction_prompts
    supplier.set_extraction(harmful[:limit], harmless[:limit])
    rng = random.Random(config.seed)
    chosen_harmful = rng.sample(harmful, min(config.n_reference, len(harmful)))
    chosen_harmless = rng.sample(harmless, min(config.n_reference, len(harmless)))
    answers = {
        "harmful": supplier.harmful_answers(chosen_harmful),
        "refusal": supplier.refusals(chosen_harmful),
        "helpful": supplier.helpful(chosen_harmless, "harmless"),
    }
    if not answers["harmful"]:
        raise AnalysisError(
            "the model wrote no complying answer even with its refusal direction ablated, so "
            "there are no harmful reference answers; pass --pairs (e.g. the "
            f"{PAIRS_FILE} of a run on the base model)")
    if not answers["helpful"]:
        raise AnalysisError("the model refused every harmless reference prompt; pass --pairs")
    pairs = {kind: [(a.prompt, a.response) for a in found.values()]
             for kind, found in answers.items()}
    provenance = {kind: [a.provenance for a in found.values()] for kind, found in answers.items()}
    return ReferenceAnswers(pairs, f"self-supplied (ablation slot {supplier.ablation_slot})",
                            provenance, dict(supplier.counts))


def _write(result: ReferenceAnswers, path: Path) -> None:
    lines = [
        json.dumps({"prompt": prompt, "response": response, "kind": kind,
                    "provenance": result.provenance.get(kind, ["?"] * len(items))[i]},
                   ensure_ascii=False)
        for kind, items in result.pairs.items() for i, (prompt, response) in enumerate(items)
    ]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
