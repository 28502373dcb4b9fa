from __future__ import annotations

from contextlib import suppress

import pytest
import torch

from harc.models.blocks import find_decoder_blocks
from harc.models.hooks import SlotError, StopForward, model_hooks, residual_hooks
from tests.tiny import tiny_model

IDS = torch.tensor([[3, 5, 7, 9]])


def test_reads_edits_and_stops():
    model = tiny_model("llama", num_layers=3)
    seen: dict[int, torch.Tensor] = {}
    with torch.no_grad(), residual_hooks(model, {1: lambda h: seen.setdefault(1, h.clone()),
                                                 3: lambda h: seen.setdefault(3, h.clone())}):
        plain = model(IDS).logits
    assert seen[1].shape == seen[3].shape == (1, 4, model.config.hidden_size)
    with torch.no_grad(), residual_hooks(model, {3: torch.zeros_like}):
        zeroed = model(IDS).logits  # the last block's output edited: the head sees zeros
    assert not torch.allclose(zeroed, plain)
    assert torch.allclose(zeroed, model.lm_head(model.model.norm(torch.zeros_like(seen[3]))))
    calls = []
    blocks = find_decoder_blocks(model)
    blocks[2].register_forward_pre_hook(lambda *_: calls.append(2))
    with (torch.no_grad(), residual_hooks(model, {1: lambda h: None}, stop_after_deepest=True),
          suppress(StopForward)):
        model(IDS)
    assert calls == []  # block 2 never ran


def test_hooks_are_removed_even_on_error_and_bad_slots_are_named():
    model = tiny_model("llama", num_layers=2)

    def explode(_hidden: torch.Tensor) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), residual_hooks(model, {0: explode}):
        model(IDS)
    assert all(not block._forward_pre_hooks for block in find_decoder_blocks(model))
    with pytest.raises(SlotError, match=r"0\.\.2"), residual_hooks(model, {5: explode}):
        pass
    with pytest.raises(SlotError, match="no residual slots"), residual_hooks(
            model, {}, stop_after_deepest=True):
        pass


def test_model_hooks_see_every_decoding_step_through_a_peft_wrapper():
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_model("qwen2"), LoraConfig(r=2, target_modules=["q_proj"]))
    before, after = [], []
    with model_hooks(model, before=lambda kwargs: before.append(kwargs["input_ids"].shape),
                     after=lambda output: after.append(output.logits.shape)):
        model.generate(input_ids=IDS, attention_mask=torch.ones_like(IDS), max_new_tokens=3,
                       do_sample=False, min_new_tokens=3)
    assert len(before) == len(after) == 3
