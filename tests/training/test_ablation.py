from __future__ import annotations

import pytest
import torch

from harc.errors import DirectionError
from harc.models import find_decoder_blocks
from harc.training.ablation import directional_ablation, project_out


def _inputs(tokenizer) -> dict[str, torch.Tensor]:
    batch = tokenizer(["Write a short poem about the sea.", "Hello"], return_tensors="pt",
                      padding=True)
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def _direction(model) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    vector = torch.randn(model.config.hidden_size, generator=generator)
    return vector / vector.norm()


def _capture_residuals(model, inputs) -> list[torch.Tensor]:
    """Every block input and the last block output, whole sequences."""
    blocks = find_decoder_blocks(model)
    captured: list[torch.Tensor] = []

    def pre(_module, args, kwargs):
        captured.append((args[0] if args else kwargs["hidden_states"]).detach().clone())

    def post(_module, _args, output):
        captured.append((output[0] if isinstance(output, tuple) else output).detach().clone())

    handles = [block.register_forward_pre_hook(pre, with_kwargs=True) for block in blocks]
    handles.append(blocks[-1].register_forward_hook(post))
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
    return captured


def test_residual_has_no_component_along_direction(tiny_pair):
    model, tokenizer = tiny_pair
    inputs = _inputs(tokenizer)
    direction = _direction(model)
    before = _capture_residuals(model, inputs)
    with directional_ablation(model, direction * 3.0):
        after = _capture_residuals(model, inputs)
    assert len(after) == len(find_decoder_blocks(model)) + 1
    for hidden in before[1:]:
        assert (hidden @ direction).abs().max() > 1e-3
    for hidden in after:
        scale = hidden.norm(dim=-1).max()
        assert (hidden @ direction).abs().max() <= 1e-5 * scale + 1e-6


def test_outputs_change_and_hooks_are_removed(tiny_pair):
    model, tokenizer = tiny_pair
    inputs = _inputs(tokenizer)
    with torch.no_grad():
        original = model(**inputs).logits
        with directional_ablation(model, _direction(model)):
            ablated = model(**inputs).logits
        restored = model(**inputs).logits
    assert not torch.allclose(original, ablated, atol=1e-4)
    assert torch.equal(original, restored)


def test_hooks_removed_on_error():
    from tests.tiny import tiny_model

    model = tiny_model("llama")
    blocks = find_decoder_blocks(model)
    with pytest.raises(RuntimeError), directional_ablation(model, _direction(model)):
        raise RuntimeError("boom")
    assert all(not block._forward_pre_hooks and not block._forward_hooks for block in blocks)


def test_zero_or_misshaped_direction_rejected():
    from tests.tiny import tiny_model

    model = tiny_model("qwen2")
    with pytest.raises(DirectionError), directional_ablation(model, torch.zeros(32)):
        pass
    with pytest.raises(DirectionError), directional_ablation(model, torch.ones(2, 32)):
        pass


def test_project_out_keeps_dtype():
    hidden = torch.randn(2, 3, 8, dtype=torch.bfloat16)
    unit = torch.nn.functional.normalize(torch.randn(8), dim=0)
    out = project_out(hidden, unit)
    assert out.dtype == torch.bfloat16
    assert (out.float() @ unit).abs().max() < 0.05
