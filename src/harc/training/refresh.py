"""Direction extraction on the model being trained, and the held-out diagnostics logged with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from harc.activations import capture_prompts
from harc.directions import (
    DirectionSet,
    bootstrap_prompt_cosine,
    extract_prompt_directions,
    extract_response_directions,
    projection_cosines,
)
from harc.positions import ChatFormat


@dataclass
class ExtractionInputs:
    harmful: list[str]
    harmless: list[str]
    harmful_answers: list[tuple[str, str]]
    refusals: list[tuple[str, str]]
    helpful: list[tuple[str, str]]
    response_tokens: int
    batch_size: int = 8


def extract_all(
    model: nn.Module,
    chat: ChatFormat,
    inputs: ExtractionInputs,
    *,
    bootstrap: int = 0,
    progress: bool = False,
) -> tuple[DirectionSet, dict[str, Any]]:
    """Prompt- and response-side directions of ``model`` as it is now, plus (optionally) the
    bootstrap interval of cos(v_harm, v_ref). The model is put in eval mode and restored."""
    was_training = model.training
    model.eval()
    try:
        directions, acts = extract_prompt_directions(
            model,
            chat,
            inputs.harmful,
            inputs.harmless,
            batch_size=inputs.batch_size,
            progress=progress,
        )
        directions = directions.with_response(
            extract_response_directions(
                model,
                chat,
                inputs.harmful_answers,
                inputs.refusals,
                inputs.helpful,
                first_k=inputs.response_tokens,
                batch_size=inputs.batch_size,
                progress=progress,
            )
        )
        extras: dict[str, Any] = {}
        if bootstrap:
            extras["bootstrap_cos"] = bootstrap_prompt_cosine(
                acts["harmful_t_inst"],
                acts["harmful_t_post"],
                acts["harmless_t_inst"],
                acts["harmless_t_post"],
                resamples=bootstrap,
            ).as_dict()
        return directions, extras
    finally:
        model.train(was_training)


@torch.no_grad()
def heldout_cosines(
    model: nn.Module,
    chat: ChatFormat,
    directions: DirectionSet,
    slots: list[int],
    prompts: list[str],
    batch_size: int = 8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per prompt and slot: c_ref = cos(h(t_post), v_ref) and c_harm = cos(h(t_inst), v_harm),
    each ``[len(prompts), len(slots)]``."""
    was_training = model.training
    model.eval()
    try:
        acts = capture_prompts(
            model, chat, prompts, slots=slots, batch_size=batch_size, progress=False
        )
    finally:
        model.train(was_training)
    c_ref = projection_cosines(acts["t_post"], directions.refusal[slots])
    c_harm = projection_cosines(acts["t_inst"], directions.harm[slots])
    return c_ref, c_harm


def heldout_projections(
    model: nn.Module,
    chat: ChatFormat,
    directions: DirectionSet,
    slots: list[int],
    harmful: list[str],
    harmless: list[str],
    batch_size: int = 8,
) -> dict[str, Any]:
    """Mean cos(h(t_post), v_ref) and cos(h(t_inst), v_harm) of held-out harmful and harmless
    prompts at each selected slot: the quantities HARC pushes above the margin / below zero."""
    result: dict[str, Any] = {"slots": list(slots)}
    for name, prompts in (("harmful", harmful), ("harmless", harmless)):
        c_ref, c_harm = heldout_cosines(model, chat, directions, slots, prompts, batch_size)
        result[f"{name}_c_ref"] = [round(float(v), 5) for v in c_ref.mean(0)]
        result[f"{name}_c_harm"] = [round(float(v), 5) for v in c_harm.mean(0)]
    return result
