"""Layer selection, the top-K ramp and the EMA blend toward the base directions (§5, §7)."""

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


def top_k_at(step: int, top_k: int, top_k_late: int, ramp_step: int) -> int:
    """K = ``top_k`` until ``ramp_step``, then ``top_k_late`` (paper: 2, then 4 at step 1000)."""
    return top_k_late if step >= ramp_step else top_k


def blend_directions(base: DirectionSet, fresh: DirectionSet, base_weight: float) -> DirectionSet:
    """v = unit(w * v_base + (1 - w) * v_fresh) for every direction both sets have.

    Always blended toward the ORIGINAL base directions, never the previous blend. A slot whose
    blend is degenerate (zero in both) stays zero.
    """
    if base.harm.shape != fresh.harm.shape:
        raise DirectionError(
            f"cannot blend directions of shapes {tuple(base.harm.shape)} and "
            f"{tuple(fresh.harm.shape)}"
        )
    blended: dict[str, torch.Tensor] = {}
    for name in ("harm", "refusal", "harm_resp", "refusal_resp"):
        old, new = getattr(base, name), getattr(fresh, name)
        if old is None or new is None:
            continue
        mixed = base_weight * old.float() + (1.0 - base_weight) * new.float()
        blended[name] = F.normalize(mixed, dim=-1, eps=1e-12)
    return DirectionSet(**blended, metadata=dict(base.metadata))


def drift(base: DirectionSet, current: DirectionSet, slots: list[int]) -> dict[str, list[float]]:
    """cos(v_current, v_base) at ``slots`` for each direction: 1.0 means no drift."""
    result: dict[str, list[float]] = {}
    for name in ("harm", "refusal", "harm_resp", "refusal_resp"):
        old, new = getattr(base, name), getattr(current, name)
        if old is None or new is None:
            continue
        values = F.cosine_similarity(old[slots].float(), new[slots].float(), dim=-1)
        result[name] = [round(float(value), 6) for value in values]
    return result
