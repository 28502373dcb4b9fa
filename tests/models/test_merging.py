from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model

from harc.models.merging import merged_copy
from tests.tiny import tiny_model


def test_merged_copy_matches_the_adapter_and_leaves_it_untouched() -> None:
    model = tiny_model("qwen2", num_layers=2)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj",
                                                                                       "up_proj"]))
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:  # B starts at zero: give the adapter an effect to fold
            torch.nn.init.normal_(parameter, std=0.05)
    peft_model.eval()
    ids = torch.randint(0, 300, (2, 7))
    with torch.no_grad():
        expected = peft_model(input_ids=ids).logits
        with peft_model.disable_adapter():
            base = peft_model(input_ids=ids).logits
        merged = merged_copy(peft_model)
        torch.testing.assert_close(merged(input_ids=ids).logits, expected, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(base, expected, atol=1e-3)
        with peft_model.disable_adapter():  # the original adapter and base are unchanged
            torch.testing.assert_close(peft_model(input_ids=ids).logits, base)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert not merged.training


def test_merged_copy_of_a_bf16_model_rounds_once() -> None:
    """The fold happens in float32: each merged weight is the bf16 rounding of W + delta."""
    model = tiny_model("qwen2", num_layers=2).to(torch.bfloat16)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]))
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.01)
    layer = peft_model.base_model.model.model.layers[0].self_attn.q_proj
    expected = (layer.base_layer.weight.float() + layer.get_delta_weight("default").float())
    merged = merged_copy(peft_model)
    weight = merged.model.layers[0].self_attn.q_proj.weight
    assert weight.dtype is torch.bfloat16
    assert torch.equal(weight, expected.to(torch.bfloat16))
    assert next(peft_model.parameters()).dtype is torch.bfloat16  # the original is untouched
