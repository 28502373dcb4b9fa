"""A LoRA adapter folded into a copy of the weights, for the stages that only generate.

PEFT's unmerged adapter adds per targeted layer two small matmuls, a cast to the adapter's
float32 and an add, at every decode step. Folding ``W + (alpha / r) B A`` into a copy of the
weights removes them: on the embedded 0.5B model, batch 32, bf16, 119 -> 167 tokens/s, fp32
60 -> 67 (``benchmarks/generation.py --adapter``). In fp32 the answers are identical; in bf16
the fold rounds the delta into bf16 weights, and the folded model's greedy answers agree with
the float32 model's as often as the unmerged bf16 adapter's do (20/32 identical, shared prefix
0.78 vs 0.76). The fold goes into a COPY (one more set of weights in memory: 1 GB for the 0.5B
model in bf16): merging in place and unmerging later would leave the base weights a rounding
step off, and callers still need the adapter and its disable switch (the KL reference, the
probe judge's base-model features, the plane).
"""

from __future__ import annotations

import copy
from typing import Any

import torch


def merged_copy(peft_model: Any) -> Any:
    """A plain model (no PEFT layers) equal to ``peft_model`` with its active adapter merged,
    in eval mode; ``peft_model`` and the base weights it wraps are left untouched."""
    from harc.models.loading import contiguous_head_input

    clone = copy.deepcopy(peft_model)
    dtype = next(clone.parameters()).dtype
    # Fold in float32 and round once: PEFT's own merge in a bf16 model rounds the delta to bf16
    # and then the sum again. Weights outside the adapter survive the round trip exactly.
    merged = clone.to(torch.float32).merge_and_unload().to(dtype)
    return contiguous_head_input(merged.eval())
