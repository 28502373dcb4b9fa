"""HARC's layer selection (§5): a per-slot score of a direction set and the top-K slots."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harc.directions.direction_set import DirectionSet
from harc.errors import DirectionError


def layer_scores(directions: DirectionSet) -> torch.Tensor:
    """score(L) = (1-|cos(v_ref, v_harm)|)(1-|cos(v_ref_resp, v_harm_resp)|)
    |cos(v_harm, v_harm_resp)| |cos(v_ref, v_ref_resp)| per slot."""
    if not directions.has_response:
        raise DirectionError(
            "layer selection needs response-side directions (harm_resp, refusal_resp)"
        )
    assert directions.harm_resp is not None and directions.refusal_resp is not None

    def cos(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return F.cosine_similarity(first.float(), second.float(), dim=-1).abs()

    return (
        (1 - cos(directions.refusal, directions.harm))
        * (1 - cos(directions.refusal_resp, directions.harm_resp))
        * cos(directions.harm, directions.harm_resp)
        * cos(directions.refusal, directions.refusal_resp)
    )


def select_layers(
    directions: DirectionSet, top_k: int, exclude_first: int = 4, exclude_last: int = 4
) -> list[int]:
    """The ``top_k`` best-scoring slots, excluding the first and last few; returned sorted."""
    scores = layer_scores(directions)
    eligible = list(range(exclude_first, directions.num_slots - exclude_last))
    if len(eligible) < top_k:
        raise DirectionError(
            f"only {len(eligible)} slots remain after excluding the first {exclude_first} and last "
            f"{exclude_last} of {directions.num_slots}; cannot pick {top_k}"
        )
    ranked = sorted(eligible, key=lambda slot: (-float(scores[slot]), slot))
    return sorted(ranked[:top_k])
