"""The top-K ramp and the EMA blend toward the base directions (§7); layer selection (§5) is
:mod:`harc.directions.selection`, re-exported here."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harc.directions.direction_set import DirectionSet
from harc.directions.selection import layer_scores, select_layers
from harc.errors import DirectionError

__all__ = ["blend_directions", "drift", "layer_scores", "select_layers", "top_k_at"]


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
