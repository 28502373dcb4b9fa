"""Difference-of-means directions at prompt and response positions (HARC_METHOD §3-§4)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from harc.activations import capture_prompts, capture_responses
from harc.directions.direction_set import DirectionSet
from harc.errors import DirectionError
from harc.positions import ChatFormat

_DEGENERATE_GAP = 1e-6  # relative to the typical activation norm at that slot


def mean_difference(
    positive: torch.Tensor, negative: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit direction and raw norm of ``mean(positive) - mean(negative)`` per slot.

    Inputs are ``[N, slots, hidden]``; outputs ``[slots, hidden]`` and ``[slots]``. Slots where the
    two means coincide get a zero direction and norm; if every slot does, it is an error.
    """
    if positive.shape[0] == 0 or negative.shape[0] == 0:
        raise DirectionError(
            "difference of means needs two non-empty sets, got "
            f"{positive.shape[0]} and {negative.shape[0]}"
        )
    for name, values in (("first", positive), ("second", negative)):
        bad = (~torch.isfinite(values)).flatten(2).any(-1).any(0)  # per slot
        if bool(bad.any()):
            slots = bad.nonzero().flatten().tolist()
            raise DirectionError(
                f"non-finite activations (NaN/inf) in the {name} set at slots {slots[:8]}"
                f"{' ...' if len(slots) > 8 else ''}: the model overflows in this dtype or its "
                "weights are broken; try --dtype float32")
    gap = positive.double().mean(dim=0) - negative.double().mean(dim=0)
    norm = gap.norm(dim=-1)
    degenerate = norm <= _DEGENERATE_GAP * positive.double().norm(dim=-1).mean(dim=0).clamp_min(
        1e-12
    )
    if bool(degenerate.all()):
        raise DirectionError("the two sets have identical means at every slot: no direction exists")
    # A slot can be degenerate for a structural reason: at slot 0 (the embeddings) t_post is the
    # same template token for every prompt. Such slots get a zero direction and a zero norm.
    unit = torch.where(
        degenerate.unsqueeze(-1), torch.zeros_like(gap), gap / norm.clamp_min(1e-30).unsqueeze(-1)
    )
    return unit.float(), torch.where(degenerate, torch.zeros_like(norm), norm).float()


def degenerate_slots(norm: torch.Tensor) -> list[int]:
    """Slots where a direction could not be defined (zero mean gap)."""
    return torch.nonzero(norm == 0).flatten().tolist()


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
    directions = DirectionSet(
        harm=harm, refusal=refusal, harm_norm=harm_norm, refusal_norm=refusal_norm
    )
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
        return capture_responses(
            model, chat, pairs, first_k=first_k, batch_size=batch_size, progress=progress
        )

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
