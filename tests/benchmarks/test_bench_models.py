"""The benchmarks' random-architecture models: built in the asked dtype, greedy decoding kept
inside the tiny tokenizer's ordinary tokens."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_models
from tests.tiny import SPECIAL_TOKENS

SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=1000)


def test_random_architecture_in_bf16_never_decodes_past_the_vocabulary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(bench_models.ARCHITECTURES, "test/small", SMALL)
    loaded = bench_models.load("random:Test/Small", "bfloat16", "cpu")
    assert loaded.name == "random-small-arch" and loaded.dtype == torch.bfloat16
    assert {p.dtype for p in loaded.model.parameters()} == {torch.bfloat16}
    assert torch.get_default_dtype() == torch.float32
    assert loaded.model.config.vocab_size == 1000 > len(loaded.tokenizer)
    ids = torch.randint(len(SPECIAL_TOKENS), len(loaded.tokenizer), (8, 12))
    with torch.no_grad():
        chosen = loaded.model(input_ids=ids).logits.argmax(-1)
    assert chosen.min() >= len(SPECIAL_TOKENS) and chosen.max() < len(loaded.tokenizer)


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(SystemExit, match="no embedded config"):
        bench_models.load("random:nobody/nothing-1b", "float32", "cpu")
