"""LoRA config: target names the model lacks, and loud warnings on partial block coverage."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from harc.errors import HarcError
from harc.training.config import LoraSettings
from harc.training.lora import block_coverage, lora_config
from tests.tiny import tiny_model

LOGGER = "harc.training.lora"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class FusedExperts(nn.Module):
    """MoE experts as 3-D parameters (how transformers fuses them): no nn.Linear to adapt."""

    def __init__(self, experts: int = 4, hidden: int = 32, inner: int = 64) -> None:
        super().__init__()
        self.gate_up_proj = nn.Parameter(torch.zeros(experts, 2 * inner, hidden))
        self.down_proj = nn.Parameter(torch.zeros(experts, hidden, inner))


class LinearAttention(nn.Module):
    """A hybrid model's linear-attention mixer: its projections carry other names."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.in_proj = nn.Linear(hidden, 3 * hidden)
        self.out_proj = nn.Linear(hidden, hidden)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelname == "WARNING"]


def test_full_coverage_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_model("llama", num_layers=3)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        config = lora_config(model, LoraSettings(target_modules=TARGETS))
    assert sorted(config.target_modules) == sorted(TARGETS)
    assert _warnings(caplog) == []
    coverage = block_coverage(model, TARGETS)
    assert coverage is not None and coverage.full == [0, 1, 2] and coverage.complete


def test_one_block_without_q_proj_is_named(caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_model("llama", num_layers=3)
    del model.model.layers[1].self_attn.q_proj
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        lora_config(model, LoraSettings(target_modules=TARGETS))
    (message,) = _warnings(caplog)
    assert "of 3 blocks, 2 have every target" in message
    assert "1 only some (blocks 1 lack ['q_proj'])" in message
    assert "0 none" in message


def test_hybrid_and_moe_blocks(caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_model("llama", num_layers=5)
    layers = model.model.layers
    for index in (1, 3):  # linear-attention layers and no MLP projections either
        layers[index].self_attn = LinearAttention()
        layers[index].mlp = nn.Identity()
    layers[4].mlp = FusedExperts()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        lora_config(model, LoraSettings(target_modules=TARGETS))
    messages = _warnings(caplog)
    assert len(messages) == 2
    assert "of 5 blocks, 2 have every target" in messages[0]
    assert "1 only some (blocks 4 lack ['down_proj', 'gate_proj', 'up_proj'])" in messages[0]
    assert "2 none (1, 3)" in messages[0]
    assert messages[1].startswith("1 of 5 decoder blocks (4) hold weights outside nn.Linear")


def test_only_the_requested_layers_count(caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_model("llama", num_layers=3)
    del model.model.layers[2].mlp.up_proj
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        lora_config(model, LoraSettings(target_modules=TARGETS), layers=range(2))
    assert _warnings(caplog) == []
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        lora_config(model, LoraSettings(target_modules=TARGETS), layers=[1, 2])
    (message,) = _warnings(caplog)
    assert "of 2 blocks, 1 have every target" in message and "blocks 2 lack ['up_proj']" in message


def test_matches_outside_the_decoder_blocks(caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_model("qwen2", num_layers=2)
    model.vision_tower = nn.ModuleDict({"q_proj": nn.Linear(8, 8), "fc": nn.Linear(8, 8)})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        lora_config(model, LoraSettings(target_modules=["q_proj", "v_proj"]))
    (message,) = _warnings(caplog)
    assert message.startswith("1 linear layers outside the decoder blocks")
    assert "vision_tower.q_proj" in message


def test_absent_targets_are_skipped_and_none_is_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = tiny_model("llama", num_layers=2)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        config = lora_config(model, LoraSettings(target_modules=["q_proj", "query_key_value"]))
    assert list(config.target_modules) == ["q_proj"]
    # Said once for the whole model, not again per block.
    (message,) = _warnings(caplog)
    assert "not in this model, skipped: ['query_key_value']" in message
    with pytest.raises(HarcError, match="none of the LoRA target modules"):
        lora_config(model, LoraSettings(target_modules=["c_attn"]))
