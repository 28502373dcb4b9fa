"""Difference-of-means directions at prompt and response positions (HARC_METHOD §3-§4)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from harc.activations import capture_prompts, capture_responses
from harc.directions.direction_set import DirectionSet
from harc.errors import DirectionError
from harc.positions import ChatFormat


def mean_difference(positive: torch.Tensor, negative: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit direction and raw norm of ``mean(positive) - mean(negative)`` per slot.

    Inputs are ``[N, slots, hidden]``; outputs ``[slots, hidden]`` and ``[slots]``.
    """
    if positive.shape[0] == 0 or negative.shape[0] == 0:
        raise DirectionError(
            f"difference of means needs two non-empty sets, got {positive.shape[0]} and {negative.shape[0]}"
        )
    gap = positive.double().mean(dim=0) - negative.double().mean(dim=0)
    norm = gap.norm(dim=-1)
    if bool((norm == 0).any()):
        zero_slots = torch.nonzero(norm == 0).flatten().tolist()
        raise DirectionError(f"the two sets have identical means at slots {zero_slots}: no direction")
    return (gap / norm.unsqueeze(-1)).float(), norm.float()


def extract_prompt_directions(
    model: nn.Module,
    chat: ChatFormat,
    harmful: Sequence[str],
    harmless: Sequence[str],
    *,
    batch_size: int = 8,
    progress: bool = True,
) -> tuple[DirectionSet, dict[str, torch.Tensor]]:
    """v_harm from t_inst and v_ref from t_post; also returns the captured activations
    (``harmful_t_inst``, ``harmless_t_post``, ...) for bootstrap and diagnostics."""
    _require(harmful, "harmful")
    _require(harmless, "harmless")
    harmful_acts = capture_prompts(model, chat, harmful, batch_size=batch_size, progress=progress)
    harmless_acts = capture_prompts(model, chat, harmless, batch_size=batch_size, progress=progress)
    harm, harm_norm = mean_difference(harmful_acts["t_inst"], harmless_acts["t_inst"])
    refusal, refusal_norm = mean_difference(harmful_acts["t_post"], harmless_acts["t_post"])
    directions = DirectionSet(harm=harm, refusal=refusal, harm_norm=harm_norm, refusal_norm=refusal_norm)
    activations = {
        "harmful_t_inst": harmful_acts["t_inst"],
        "harmful_t_post": harmful_acts["t_post"],
        "harmless_t_inst": harmless_acts["t_inst"],
        "harmless_t_post": harmless_acts["t_post"],
    }
    return directions, activations


def extract_response_directions(
    model: nn.Module,
    chat: ChatFormat,
    harmful_answers: Sequence[tuple[str, str]],
    refusals: Sequence[tuple[str, str]],
    helpful_answers: Sequence[tuple[str, str]],
    *,
    first_k: int = 32,
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """v_harm_resp = unit(mean harmful answers - mean helpful answers) and
    v_ref_resp = unit(mean refusals - mean helpful answers), over the first ``first_k`` tokens."""
    _require(harmful_answers, "harmful-answer pairs")
    _require(refusals, "refusal pairs")
    _require(helpful_answers, "helpful-answer pairs")

    def window_means(pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
        return capture_responses(model, chat, pairs, first_k=first_k, batch_size=batch_size,
                                 progress=progress)

    helpful = window_means(helpful_answers)
    harm_resp, harm_resp_norm = mean_difference(window_means(harmful_answers), helpful)
    refusal_resp, refusal_resp_norm = mean_difference(window_means(refusals), helpful)
    return {
        "harm_resp": harm_resp,
        "refusal_resp": refusal_resp,
        "harm_resp_norm": harm_resp_norm,
        "refusal_resp_norm": refusal_resp_norm,
    }


def _require(items: Sequence[object], name: str) -> None:
    if len(items) == 0:
        raise DirectionError(f"the {name} set is empty")
