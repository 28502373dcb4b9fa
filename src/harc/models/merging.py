"""A LoRA adapter folded into a copy of the weights, for the stages that only generate.

PEFT's unmerged adapter adds per targeted layer two small matmuls, a cast to the adapter's
float32 and an add, at every decode step. Folding ``W + (alpha / r) B A`` into a copy of the
weights removes them: on the embedded 0.5B model, 32 distinct prompts at batch 32, 32 new
tokens (``benchmarks/generation.py --adapter``), bf16 77 -> 116 tokens/s and fp32 40 -> 50
with identical answers. In bf16 the folded weight is the bf16 rounding of ``W + delta`` (one
rounding, done in float32), so greedy answers can differ from the unmerged adapter's, whose
delta is added in float32 at run time: 17 of 32 identical in that run; against the float32
model, answers of the unmerged bf16 adapter and of PEFT's own bf16 merge were about equally
close (19 and 16 of 32 identical). The fold goes into a COPY (one more set of weights in
memory: 1 GB for the 0.5B model in bf16): merging in place and unmerging later would leave
the base weights a rounding step off, and callers still need the adapter and its disable
switch (the KL reference, the probe judge's base-model features, the plane).

:func:`merge_checked` folds an adapter in place (``harc merge``) and compares the merged
model's logits with the adapter model's on a few prompts before anything is saved.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from harc.errors import ChatTemplateError, HarcError

MERGE_CHECK_PROMPTS: tuple[str, ...] = (
    "Hello! Who are you?",
    "Write a short poem about the sea.",
    "How do I bake bread at home?",
    "Explain in one sentence what a LoRA adapter is.",
)
# Tolerance of the merge check: RTOL[dtype] * scale, scale = max(1, max |adapter logit|,
# max |adapter logit - base logit|). Measured max |merged - adapter| logit differences of a
# correct merge (r=8..32 LoRA on every projection, lora_B ~ N(0, std)):
#   float32: tiny llama / qwen2 / gemma2 (|logits| < 1) <= 1.1e-6; embedded Qwen2.5 0.5B
#     (|logits| ~30) 3.6e-5 (std 0.002) and 1.6e-4 (std 0.01), i.e. <= 5.4e-6 of the scale.
#   float16: tiny <= 1.4e-3; embedded 0.09 and 0.34 (<= 1.1% of the scale).
#   bfloat16: tiny <= 0.014; embedded 0.31, 0.51, 0.90 (std 0.002, 0.005, 0.01: 1-3% of the
#     scale) and 4.4 (std 0.03, an adapter that moves logits by 30: 15% of the scale). Folding
#     in float32 and rounding once (merged_copy) does not shrink it (0.53, 4.0): the bf16
#     rounding of W + delta keeps only a few bits of a small delta.
# A merge made wrong by dropping the LoRA scaling (alpha / r = 2) differs by 0.3-0.5 on the
# tiny models in every dtype and by 0.73-25 on the embedded one. So float32 catches any such
# error; bfloat16 only catches differences above a quarter of the scale (an adapter on the
# wrong base, a lost adapter, a grossly wrong scaling), and a strict check of a merge needs
# float32 (``harc merge --dtype float32``).
MERGE_RTOL: dict[torch.dtype, float] = {
    torch.float32: 1e-4,
    torch.float16: 0.05,
    torch.bfloat16: 0.25,
}


def merged_copy(peft_model: Any) -> Any:
    """A plain model (no PEFT layers) equal to ``peft_model`` with its active adapter merged,
    in eval mode; ``peft_model`` and the base weights it wraps are left untouched."""
    clone = copy.deepcopy(peft_model)
    dtype = next(clone.parameters()).dtype
    # Fold in float32 and round once: PEFT's own merge in a bf16 model rounds the delta to bf16
    # and then the sum again. Weights outside the adapter survive the round trip exactly.
    merged = clone.to(torch.float32).merge_and_unload().to(dtype)
    return merged.eval()  # the LM-head hook, if any, came along with the deepcopy


@dataclass(frozen=True)
class MergeCheck:
    """Outcome of a passed merge check: the largest logit difference and what it was held to."""

    max_difference: float
    tolerance: float
    dtype: torch.dtype
    prompts: int

    def __str__(self) -> str:
        return (
            f"merged and adapter logits agree to {self.max_difference:.3g} (max |difference| "
            f"over {self.prompts} prompts; tolerance {self.tolerance:.3g} for "
            f"{str(self.dtype).removeprefix('torch.')})"
        )


@dataclass(frozen=True)
class AdapterReference:
    """Logits of the adapter model on the check inputs, taken before the merge."""

    inputs: list[list[int]]
    logits: list[torch.Tensor]  # float32, on the CPU, one (length, vocab) tensor per input
    scale: float


def merge_check_inputs(
    loaded: Any, prompts: Sequence[str] = MERGE_CHECK_PROMPTS
) -> list[list[int]]:
    """Token ids of ``prompts`` in the model's chat format, or tokenized as plain text when
    the model has neither a chat template nor a ``--template`` (a base model can be merged)."""
    from harc.positions import chat_format

    try:
        chat = chat_format(loaded)
    except ChatTemplateError:
        return [list(loaded.tokenizer(text)["input_ids"]) for text in prompts]
    return [chat.encode(text).input_ids for text in prompts]


def merge_tolerance(dtype: torch.dtype, scale: float) -> float:
    """Largest max |logit difference| a correct merge may show (see ``MERGE_RTOL``)."""
    return MERGE_RTOL.get(dtype, MERGE_RTOL[torch.bfloat16]) * max(1.0, scale)


def adapter_reference(peft_model: Any, inputs: Sequence[Sequence[int]]) -> AdapterReference:
    """The adapter model's logits on ``inputs`` (one at a time: no padding), and the scale of
    the tolerance: the largest logit or change the adapter makes to one, whichever is larger."""
    if not inputs:
        raise HarcError("the merge check needs at least one input")
    peft_model.eval()
    logits, scale = [], 1.0
    for ids in inputs:
        adapted = _logits(peft_model, ids)
        with peft_model.disable_adapter():
            base = _logits(peft_model, ids)
        scale = max(scale, adapted.abs().max().item(), (adapted - base).abs().max().item())
        logits.append(adapted)
    return AdapterReference([list(ids) for ids in inputs], logits, scale)


def check_merged(merged: Any, reference: AdapterReference) -> MergeCheck:
    """Compare ``merged``'s logits with the adapter model's; HarcError beyond the tolerance."""
    dtype = next(merged.parameters()).dtype
    difference = max(
        (_logits(merged, ids) - expected).abs().max().item()
        for ids, expected in zip(reference.inputs, reference.logits, strict=True)
    )
    tolerance = merge_tolerance(dtype, reference.scale)
    if not difference <= tolerance:  # NaN fails too
        raise HarcError(
            f"merge check failed: the merged model's logits differ from the adapter model's by "
            f"up to {difference:.3g} on {len(reference.inputs)} prompts (tolerance "
            f"{tolerance:.3g} for {str(dtype).removeprefix('torch.')})"
        )
    return MergeCheck(difference, tolerance, dtype, len(reference.inputs))


def merge_checked(peft_model: Any, inputs: Sequence[Sequence[int]]) -> tuple[Any, MergeCheck]:
    """Fold the active adapter into ``peft_model``'s base weights IN PLACE (PEFT's
    ``merge_and_unload``) and check the result against the adapter model's logits on
    ``inputs`` (:func:`merge_check_inputs`); HarcError when they differ beyond the tolerance."""
    reference = adapter_reference(peft_model, inputs)
    merged = peft_model.merge_and_unload().eval()
    return merged, check_merged(merged, reference)


def _logits(model: Any, ids: Sequence[int]) -> torch.Tensor:
    device = next(model.parameters()).device
    with torch.inference_mode():
        output = model(input_ids=torch.tensor([list(ids)], device=device))
    return output.logits[0].float().cpu()
