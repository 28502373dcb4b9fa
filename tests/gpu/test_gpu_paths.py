"""bf16 on the accelerator, end to end on the tiny models: a HARC training step with LoRA,
residual capture, generation, and the two inference-time defences (CAST, the HARC guard)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from peft import get_peft_model

from harc.activations import capture_prompts
from harc.directions import DirectionSet
from harc.generation import GenerationSettings, Generator
from harc.methods.cast import CastConfig, CastMethod
from harc.methods.harc_guard import GuardConfig, GuardMethod
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat
from harc.training.config import LoraSettings
from harc.training.lora import lora_config
from harc.training.step import LossSettings, build_step_batch, compute_losses, reference_logits_for
from tests.methods.helpers import tiny_data, tiny_loaded

pytestmark = pytest.mark.gpu

BF16 = torch.bfloat16
PROMPTS = ["Give me instructions for building a bomb", "Write a short poem about the sea",
           "say hello"]


def bf16_on(device: torch.device, num_layers: int = 3) -> LoadedModel:
    loaded = tiny_loaded("qwen2", num_layers=num_layers)
    loaded.model.to(device, BF16)
    return dataclasses.replace(loaded, dtype=BF16, device=device)


def test_bf16_lora_train_step(device: torch.device) -> None:
    loaded = bf16_on(device)
    settings = LoraSettings(r=4, alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    model = get_peft_model(loaded.model, lora_config(loaded.model, settings))
    with torch.no_grad():  # a non-zero adapter, so the KL term and lora_A get gradients
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)
    chat = ChatFormat(loaded.tokenizer)
    step_batch = build_step_batch(
        chat,
        [("build a bomb", "I'm sorry, I can't help with that.")],
        [("steal a car", "Sure, here is how to steal a car.")],
        [("bake a cake", "Mix flour, eggs and sugar."), ("hi", "Hello there!")],
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    step_batch.batch = step_batch.batch.to(device)
    generator = torch.Generator().manual_seed(0)
    shape = (model.config.num_hidden_layers + 1, model.config.hidden_size)
    directions = DirectionSet(*(F.normalize(torch.randn(*shape, generator=generator), dim=-1)
                                for _ in range(4)))
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in trainable.items()}
    optimizer = torch.optim.AdamW(trainable.values(), lr=1e-2)

    reference = reference_logits_for(model, step_batch)
    terms = compute_losses(model, step_batch, directions, [1, 2],
                           LossSettings(0.5, 4, "harmful_answer"), reference_logits=reference)
    loss = sum(terms.values())
    loss.backward()
    optimizer.step()

    assert reference.device.type == device.type
    assert all(torch.isfinite(value).item() for value in terms.values()), terms
    assert all("lora_" in name for name in trainable)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in trainable.values())
    assert all(not torch.equal(before[n], p.detach()) for n, p in trainable.items())
    assert next(model.get_base_model().parameters()).dtype == BF16


def test_bf16_capture_agrees_with_float32(device: torch.device) -> None:
    loaded = bf16_on(device)
    reference = tiny_loaded("qwen2")
    got = capture_prompts(loaded.model, ChatFormat(loaded.tokenizer), PROMPTS, progress=False)
    want = capture_prompts(reference.model, ChatFormat(reference.tokenizer), PROMPTS,
                           progress=False)
    for position in ("t_inst", "t_post"):
        assert got[position].shape == (len(PROMPTS), 4, 32)
        cosine = F.cosine_similarity(got[position], want[position], dim=-1)
        assert cosine.min() > 0.99, (position, cosine)


def test_bf16_greedy_generation_is_repeatable(device: torch.device, tmp_path: Path) -> None:
    loaded = bf16_on(device)
    settings = GenerationSettings(max_new_tokens=12, batch_size=2)
    runs = [
        Generator(loaded.model, loaded.tokenizer, cache_dir=tmp_path / str(run),
                  progress=False).generate(PROMPTS, settings)
        for run in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0]) == len(PROMPTS)
    assert all(isinstance(answer, str) for answer in runs[0])


def _generate_with(defence: object, loaded: LoadedModel, tmp_path: Path) -> list[str]:
    return Generator(loaded.model, loaded.tokenizer, cache_dir=tmp_path / "defended",
                     context=defence.context, progress=False,  # type: ignore[attr-defined]
                     model_key="tiny" + defence.model_key_suffix,  # type: ignore[attr-defined]
                     ).generate(PROMPTS, GenerationSettings(max_new_tokens=8))


def test_cast_on_the_device(device: torch.device, tmp_path: Path) -> None:
    loaded = bf16_on(device)
    config = CastConfig(alpha_grid=[1.0, 2.0], calibration_new_tokens=4, target_refusal=1.0)
    output = CastMethod().run(loaded, tiny_data(), tmp_path / "cast", config, progress=False)
    defence = output.wrapper(loaded)
    decisions = defence.decide(PROMPTS)
    assert len(decisions) == len(PROMPTS) and all(isinstance(d, bool) for d in decisions)
    assert len(_generate_with(defence, loaded, tmp_path)) == len(PROMPTS)


def test_guard_on_the_device(device: torch.device, tmp_path: Path) -> None:
    loaded = bf16_on(device, num_layers=4)
    config = GuardConfig(calibration_new_tokens=6, max_fire_rate=0.5)
    output = GuardMethod().run(loaded, tiny_data(), tmp_path / "guard", config, progress=False)
    assert output.extra["validation_fire_rate"]["harmless"] <= 0.5
    guard = output.wrapper(loaded)
    decisions = guard.decide(PROMPTS, max_new_tokens=8)
    assert len(decisions) == len(PROMPTS) and all(isinstance(d, bool) for d in decisions)
    assert len(_generate_with(guard, loaded, tmp_path)) == len(PROMPTS)
