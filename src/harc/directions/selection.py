"""Which slots to act on: HARC's layer selection (§5: a per-slot score of a direction set
and the top-K slots), the middle of the depth, and the refusal slot to ablate or steer."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from harc.directions.direction_set import DirectionSet
from harc.directions.statistics import separation
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


def middle_slots(num_slots: int) -> list[int]:
    """Slots between 25% and 75% of the depth (``num_slots - 1`` blocks), at least one."""
    blocks = num_slots - 1
    low, high = math.ceil(0.25 * blocks), math.floor(0.75 * blocks)
    return list(range(max(low, 1), max(high, 1) + 1)) if blocks > 0 else [0]


def choose_refusal_slot(
    refusal: torch.Tensor, harmful_t_post: torch.Tensor, harmless_t_post: torch.Tensor
) -> int:
    """The middle slot whose v_ref (``[slots, hidden]``) has the highest AUROC of harmful vs
    harmless prompts (ties: the larger gap of mean cosines); activations are
    ``[N, slots, hidden]`` over all slots. Zero directions are never chosen."""
    num_slots = refusal.shape[0]
    norms = refusal.norm(dim=-1)
    candidates = [slot for slot in middle_slots(num_slots) if norms[slot] > 0]
    if not candidates:
        candidates = [slot for slot in range(num_slots) if norms[slot] > 0]
    if not candidates:
        raise DirectionError("the refusal direction is zero at every slot; nothing to choose")
    stats = separation(harmful_t_post, harmless_t_post, refusal)
    gap = stats.mean_cos_harmful - stats.mean_cos_harmless
    return max(candidates, key=lambda slot: (round(float(stats.auroc[slot]), 9), float(gap[slot])))
