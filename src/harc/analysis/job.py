"""One call from a loaded model to the whole analysis: plane, suppression, separability,
outcomes, response-side recognition and (optionally) the per-slot sweep.

Cost, in forward passes: direction extraction (skipped with ``directions``), reference answers
(skipped with ``pairs``; cached), one all-slot prompt pass over the harmless and direct
prompts to choose the slot (and, with ``directions``, the ablation slot for self-supplied
harmful answers), generation for every plane prompt (cached), and one pass over
(prompt + answer) that reads t_inst/t_post and the answer tokens at the chosen slot.
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass

from harc.activations import capture_prompts
from harc.analysis.capture import capture_pairs
from harc.analysis.errors import AnalysisError
from harc.analysis.outcome import Outcome, is_jailbreak, link_outcome
from harc.analysis.plane import (
    DIRECT,
    HARMLESS,
    ClassActivations,
    Measure,
    PlanePoints,
    choose_slot,
    classes_from_rows,
    plane_points,
    slot_aurocs,
)
from harc.analysis.reference import ReferenceAnswers, reference_answers
from harc.analysis.response import Recognition, fit_response_axis, recognition
from harc.analysis.separability import Separability, attack_separability
from harc.analysis.suppression import ClassShift, SuppressionRule, attack_shifts
from harc.analysis.sweep import sweep_slots
from harc.attacks import get_attack
from harc.data import load_prompts
from harc.directions import DirectionSet, extract_prompt_directions
from harc.generation import GenerationSettings, Generator
from harc.judges import Verdict, get_judge
from harc.models import num_residual_slots
from harc.models.identity import model_key
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format

logger = logging.getLogger(__name__)

DEFAULT_ATTACKS = ("direct", "refusal_suppression", "prefix_injection", "roleplay",
                   "deep_inception", "code_attack", "pap")


@pydantic_dataclass(config=ConfigDict(extra="forbid"))
class AnalysisConfig:
    """Inputs of ``harc analyze``. Prompt sets are ``load_prompts`` specs."""

    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    goals: str = "builtin:harmful:heldout"
    harmless: str = "builtin:harmless:heldout"
    n_goals: int = 24
    n_harmless: int = 24
    direction_harmful: str = "builtin:harmful:train"
    direction_harmless: str = "builtin:harmless:train"
    max_direction_prompts: int | None = 300
    directions: str | None = None  # a DirectionSet file to use instead of extracting
    slot: int | None = None
    sweep: bool = False
    measure: Measure = "cos"
    max_new_tokens: int = 32
    judge: str = "keyword"
    pairs: str | None = None  # prompt/response/kind file for the response directions
    n_reference: int = 24  # per kind, when self-supplying
    response_tokens: int = 32
    prompt_threshold: float = 0.5
    threshold: float = 0.25
    level: float = 0.95
    resamples: int = 2000
    folds: int = 5
    batch_size: int = 8
    seed: int = 0


@dataclass
class AnalysisResult:
    config: AnalysisConfig
    model: str
    model_key: str
    slot: int
    slot_source: str
    aurocs: dict[int, tuple[float, float]]
    points: PlanePoints
    responses: list[str]
    verdicts: list[Verdict]
    success: list[bool]
    rule: SuppressionRule
    shifts: list[ClassShift]
    separability: Separability
    outcome: Outcome
    recognition: Recognition
    reference: ReferenceAnswers
    sweep: list[dict[str, Any]] | None
    timings: dict[str, float] = field(default_factory=dict)
    load_average: dict[str, list[float]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)


class _Stages:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._last, 2)
        self._last = now
        logger.info("analysis stage %s: %.1f s", name, self.timings[name])


def run_analysis(
    loaded: LoadedModel, config: AnalysisConfig, out_dir: str | Path, *,
    chat: ChatFormat | None = None, key: str | None = None, progress: bool = True,
    report: bool = True,
) -> AnalysisResult:
    """Run every step and (with ``report``) write plots, JSON and ``analysis.md`` to ``out_dir``."""
    load_start = list(os.getloadavg())
    stages = _Stages()
    out = Path(out_dir)
    chat = chat or chat_format(loaded)
    key = key or model_key(loaded)
    model = loaded.model
    attacks = _attack_names(config.attacks)
    directions, activations = _directions(model, chat, config, progress)
    if config.slot is not None and not 0 <= config.slot < directions.num_slots:
        raise AnalysisError(f"slot {config.slot} outside 0..{directions.num_slots - 1}")
    files: dict[str, Path] = {}
    if config.directions is None:  # saved so a rerun can skip extraction with --directions
        directions.metadata.update(model=loaded.name, harmful=config.direction_harmful,
                                   harmless=config.direction_harmless)
        files["directions"] = directions.save(out / "directions")
    stages.done("directions")

    goals = _sample(config.goals, config.n_goals, config.seed)
    harmless = _sample(config.harmless, config.n_harmless, config.seed)
    rows: list[tuple[str, str, str | None]] = [(HARMLESS, text, None) for text in harmless]
    for name in attacks:
        rows += [(name, item.prompt, item.goal)
                 for item in get_attack(name).apply(goals, seed=config.seed)]

    held = [capture_prompts(model, chat, texts, batch_size=config.batch_size,
                            progress=progress)
            for texts in (harmless, [text for label, text, _ in rows if label == DIRECT])]
    all_slots = tuple(range(directions.num_slots))
    aurocs = slot_aurocs(ClassActivations(HARMLESS, held[0]["t_inst"], held[0]["t_post"],
                                          all_slots),
                         ClassActivations(DIRECT, held[1]["t_inst"], held[1]["t_post"],
                                          all_slots),
                         directions, config.measure)
    slot = config.slot if config.slot is not None else choose_slot(aurocs, directions.num_slots)
    stages.done("slot choice")

    if activations is None:  # directions from a file: choose the ablation slot on these prompts
        activations = {"harmful_t_post": held[1]["t_post"], "harmless_t_post": held[0]["t_post"]}
    reference = reference_answers(loaded, config, chat, directions, activations, key, out,
                                  progress=progress)
    stages.done("reference answers")

    generator = Generator(model, loaded.tokenizer, chat=chat, model_key=key, progress=progress)
    prompts = [text for _, text, _ in rows]
    responses = generator.generate(prompts, GenerationSettings(
        max_new_tokens=config.max_new_tokens, batch_size=config.batch_size))
    verdicts = get_judge(config.judge).judge(prompts, responses)
    success = [is_jailbreak(verdict) for verdict in verdicts]
    stages.done("generation")

    position_slots = all_slots if config.sweep else (slot,)
    captured = capture_pairs(model, chat, list(zip(prompts, responses, strict=True)),
                             token_slot=slot, position_slots=position_slots,
                             max_tokens=config.response_tokens, batch_size=config.batch_size,
                             progress=progress)
    ref_tokens = {
        kind: capture_pairs(model, chat, pairs, token_slot=slot,
                            max_tokens=config.response_tokens, batch_size=config.batch_size,
                            progress=progress).tokens
        for kind, pairs in reference.pairs.items()
    }
    stages.done("answer residuals")

    # rows are grouped by class in plane order, so plane point i is row i
    classes = classes_from_rows(rows, captured.t_inst, captured.t_post, position_slots)
    points = plane_points(classes, directions, slot, config.measure)
    rule = SuppressionRule(config.threshold, config.level)
    shifts = attack_shifts(points, rule=rule, resamples=config.resamples, seed=config.seed)
    separable = attack_separability(points, folds=config.folds, seed=config.seed)
    outcome = link_outcome(points, success)
    axis = fit_response_axis(ref_tokens["harmful"], ref_tokens["helpful"],
                             ref_tokens["refusal"], slot, window=config.response_tokens,
                             folds=config.folds, seed=config.seed)
    recognised = recognition(axis, points, success, captured.tokens,
                             prompt_threshold=config.prompt_threshold)
    sweep = sweep_slots(classes, directions, aurocs, measure=config.measure, rule=rule,
                        resamples=min(config.resamples, 1000), folds=config.folds,
                        seed=config.seed) if config.sweep else None
    stages.done("statistics")

    result = AnalysisResult(
        config, loaded.name, key, slot, "given" if config.slot is not None else "auto", aurocs,
        points, responses, verdicts, success, rule, shifts, separable, outcome, recognised,
        reference, sweep, stages.timings, {"start": load_start}, files)
    if report:
        from harc.analysis.report import write_report

        result.load_average["end"] = list(os.getloadavg())
        result.files = write_report(result, out)
        stages.done("report")
    result.load_average["end"] = list(os.getloadavg())
    return result


def _attack_names(names: tuple[str, ...]) -> list[str]:
    unique = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if HARMLESS in unique:
        raise AnalysisError(f"{HARMLESS!r} is reserved for the harmless prompts")
    if DIRECT not in unique:
        unique.insert(0, DIRECT)  # the harmful centroid of the plane
    if len(unique) < 2:
        raise AnalysisError("name at least one attack besides 'direct'")
    for name in unique:
        try:
            get_attack(name)
        except TypeError as error:
            raise AnalysisError(
                f"attack {name!r} needs models to run (e.g. PAIR, GCG); the analysis uses "
                "single-shot attacks only") from error
    return unique


def _sample(spec: str, n: int, seed: int) -> list[str]:
    """A seeded sample of ``n`` prompts of ``spec``, kept in file order."""
    texts = list(dict.fromkeys(prompt.text for prompt in load_prompts(spec)))
    if n < 2:
        raise AnalysisError(f"need at least 2 prompts per class, got n={n}")
    if n >= len(texts):
        return texts
    keep = sorted(random.Random(seed).sample(range(len(texts)), n))
    return [texts[i] for i in keep]


def _directions(
    model: Any, chat: ChatFormat, config: AnalysisConfig, progress: bool
) -> tuple[DirectionSet, dict[str, torch.Tensor] | None]:
    slots = num_residual_slots(model)
    if config.directions:
        directions = DirectionSet.load(config.directions)
        if directions.num_slots != slots:
            raise AnalysisError(f"{config.directions} has {directions.num_slots} slots, the "
                                f"model {slots}: directions of another model?")
        return directions, None
    limit = config.max_direction_prompts
    harmful = [p.text for p in load_prompts(config.direction_harmful)][:limit]
    harmless = [p.text for p in load_prompts(config.direction_harmless)][:limit]
    return extract_prompt_directions(model, chat, harmful, harmless,
                                     batch_size=config.batch_size, progress=progress)
