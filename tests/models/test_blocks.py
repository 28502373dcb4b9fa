from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import (
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
)

from harc.errors import UnknownArchitectureError
from harc.models import find_decoder_blocks, num_residual_slots
from tests.tiny import tiny_model


def _gemma3(layers: int = 4) -> PreTrainedModel:
    cfg = Gemma3TextConfig(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=128,
        sliding_window=16,
    )
    return Gemma3ForCausalLM(cfg)


def _gpt2(layers: int = 2) -> PreTrainedModel:
    return GPT2LMHeadModel(GPT2Config(vocab_size=300, n_embd=32, n_layer=layers, n_head=4))


def _neox(layers: int = 3) -> PreTrainedModel:
    cfg = GPTNeoXConfig(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
    )
    return GPTNeoXForCausalLM(cfg)


@pytest.mark.parametrize(
    ("build", "n_layers", "block_class"),
    [
        (lambda: tiny_model("llama", num_layers=3), 3, "LlamaDecoderLayer"),
        (lambda: tiny_model("qwen2", num_layers=2), 2, "Qwen2DecoderLayer"),
        (lambda: tiny_model("gemma2", num_layers=4), 4, "Gemma2DecoderLayer"),
        (_gemma3, 4, "Gemma3DecoderLayer"),
        (_gpt2, 2, "GPT2Block"),
        (_neox, 3, "GPTNeoXLayer"),
    ],
    ids=["llama", "qwen2", "gemma2", "gemma3", "gpt2", "gpt_neox"],
)
def test_finds_blocks_per_family(build, n_layers: int, block_class: str) -> None:
    model = build()
    blocks = find_decoder_blocks(model)
    assert isinstance(blocks, nn.ModuleList)
    assert len(blocks) == n_layers
    assert type(blocks[0]).__name__ == block_class
    assert num_residual_slots(model) == n_layers + 1


def test_finds_blocks_through_peft_wrapper() -> None:
    from peft import LoraConfig, get_peft_model

    base = tiny_model("qwen2", num_layers=3)
    original = find_decoder_blocks(base)
    peft_model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    blocks = find_decoder_blocks(peft_model)
    assert blocks is original
    assert num_residual_slots(peft_model) == 4


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)


class _OddConfig(PretrainedConfig):
    model_type = "harc-odd-test"


class _OddModel(PreTrainedModel):
    """Blocks under an unusual attribute name; only the layer-count fallback finds them."""

    config_class = _OddConfig

    def __init__(self, config: _OddConfig) -> None:
        super().__init__(config)
        self.embed = nn.Embedding(10, 4)
        self.heads = nn.ModuleList([nn.Linear(4, 4)])  # a shorter list that must be ignored
        self.stack = nn.ModuleList([_Block() for _ in range(config.num_hidden_layers)])


def test_fallback_matches_layer_count() -> None:
    model = _OddModel(_OddConfig(num_hidden_layers=3))
    assert find_decoder_blocks(model) is model.stack


class _Multimodal(nn.Module):
    """Mimics a vision-language wrapper: text blocks at model.language_model.layers."""

    def __init__(self) -> None:
        super().__init__()
        self.config = PretrainedConfig(text_config={"num_hidden_layers": 2})
        self.config.text_config = PretrainedConfig(num_hidden_layers=2)
        self.model = nn.Module()
        self.model.vision_tower = nn.ModuleList([_Block() for _ in range(5)])
        self.model.language_model = nn.Module()
        self.model.language_model.layers = nn.ModuleList([_Block(), _Block()])


def test_multimodal_language_model_path() -> None:
    model = _Multimodal()
    assert find_decoder_blocks(model) is model.model.language_model.layers


class _Mystery(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.zeros(2))])
        self.body = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))


def test_unknown_architecture_names_the_class() -> None:
    with pytest.raises(UnknownArchitectureError, match="_Mystery"):
        find_decoder_blocks(_Mystery())


def test_unknown_pretrained_model_names_the_class() -> None:
    class _NoBlocks(PreTrainedModel):
        config_class = _OddConfig

        def __init__(self, config: _OddConfig) -> None:
            super().__init__(config)
            self.body = nn.Linear(2, 2)

    with pytest.raises(UnknownArchitectureError, match=r"_NoBlocks.*3 layers"):
        num_residual_slots(_NoBlocks(_OddConfig(num_hidden_layers=3)))
