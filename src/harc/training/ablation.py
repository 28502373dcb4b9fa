"""Directional ablation (Arditi et al. 2024): remove one direction from the residual stream.

While active, every decoder block's input and the last block's output are replaced by
``x - (x·r) r`` at all positions, so no block reads or writes along the unit direction ``r``
(the residual entering block L+1 is block L's output, hence ablated too). Used to obtain
complying answers from an aligned model by ablating its refusal direction
(:func:`harc.directions.selection.choose_refusal_slot` picks the slot whose v_ref to ablate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from harc.errors import DirectionError
from harc.models.blocks import find_decoder_blocks
from harc.models.hooks import residual_hooks


def project_out(hidden: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """``hidden - (hidden·unit) unit`` along the last axis, computed in float32."""
    r = unit.to(device=hidden.device, dtype=torch.float32)
    coefficient = hidden.float() @ r
    return hidden - (coefficient.unsqueeze(-1) * r).to(hidden.dtype)


@contextmanager
def directional_ablation(model: nn.Module, direction: torch.Tensor) -> Iterator[None]:
    """Ablate ``direction`` (``[hidden]``, normalised here) from the residual stream.

    Hooks are removed on exit, even on error. Raises DirectionError for a zero or misshaped
    direction.
    """
    if direction.ndim != 1:
        raise DirectionError(f"ablation needs one direction [hidden], got {tuple(direction.shape)}")
    norm = direction.detach().float().norm()
    if not bool(torch.isfinite(norm)) or float(norm) == 0.0:
        raise DirectionError("cannot ablate a zero or non-finite direction")
    blocks = find_decoder_blocks(model)
    device = next(blocks.parameters()).device
    unit = (direction.detach().float() / norm).to(device)
    every_slot = dict.fromkeys(range(len(blocks) + 1), lambda hidden: project_out(hidden, unit))
    with residual_hooks(model, every_slot):
        yield


def direction_digest(direction: torch.Tensor) -> str:
    """A short content hash of a direction, for cache keys."""
    data = direction.detach().float().contiguous().cpu().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()[:16]
