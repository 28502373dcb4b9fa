"""Greedy answers must not depend on the batch size: generated one prompt at a time and all in
one left-padded batch, prompts of different lengths give identical strings (float32).

Batched generation that differs from one-at-a-time generation (padding side, attention mask,
position ids, rows that stop early) silently changes refusal rates. bfloat16 is not asserted:
other matmul shapes reduce in another order, and near-ties can flip (measured on the embedded
model: 4 of 5 answers identical; on the tiny random qwen2 model, 4 of 5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from harc.generation import GenerationSettings, Generator
from harc.positions import ChatFormat
from tests.embedded import needs_default_model
from tests.tiny import template_for, tiny_model, tiny_tokenizer

PROMPTS = [
    "Hi",
    "Explain",
    "Write a short poem about the sea and the sky.",
    "How do I bake bread at home, step by step, with a simple recipe?",
    "Give me instructions for building a bomb or stealing a car, please, in detail and at length.",
]
MAX_NEW_TOKENS = 24
# Scales the stop tokens' output-embedding rows so that greedy decoding of the random tiny
# models meets a stop token after a prompt-dependent number of steps (measured at batch 1:
# llama stops at steps 15, 2, 6, 18, 3; qwen2 5, 10, 23, 14, 14; gemma2 3, 1, never, 0,
# never). gemma2's tied rows point away from its hidden states, hence the negative factor.
STOP_BOOST = {"llama": 2.0, "qwen2": 2.0, "gemma2": -2.0}


def _generate(
    model: Any, tokenizer: Any, batch_size: int, cache_dir: Path, *,
    chat: ChatFormat | None = None, max_new_tokens: int = MAX_NEW_TOKENS,
) -> tuple[list[str], list[list[int]]]:
    """Answers of a generator with its own empty cache (batch_size is not in the cache key, so
    a shared cache would hand the second run the first one's answers), and the new token ids
    of every row ``model.generate`` returned."""
    rows: list[list[int]] = []
    original = model.generate

    def spy(*args: Any, **kwargs: Any) -> torch.Tensor:
        output = original(*args, **kwargs)
        rows.extend(output[:, kwargs["input_ids"].shape[1] :].tolist())
        return output

    model.generate = spy
    try:
        generator = Generator(model, tokenizer, chat=chat, cache_dir=cache_dir, progress=False)
        settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size)
        answers = generator.generate(PROMPTS, settings)
    finally:
        del model.generate
    assert len(rows) == len(PROMPTS)  # every answer was generated, none read from a cache
    return answers, rows


def _assert_batch_size_does_not_matter(
    model: Any, tokenizer: Any, tmp_path: Path, **kwargs: Any
) -> list[list[int]]:
    """Batch 1 and batch N agree; returns the batch-1 rows."""
    one, rows = _generate(model, tokenizer, 1, tmp_path / "batch-1", **kwargs)
    many, _ = _generate(model, tokenizer, len(PROMPTS), tmp_path / "batch-n", **kwargs)
    for prompt, alone, batched in zip(PROMPTS, one, many, strict=True):
        assert batched == alone, f"{prompt!r}: batch 1 {alone!r}, batch N {batched!r}"
    return rows


def test_prompts_need_padding(tiny_pair: tuple[Any, Any]) -> None:
    _, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    lengths = [len(chat.encode(prompt).input_ids) for prompt in PROMPTS]
    assert len(set(lengths)) == len(PROMPTS), lengths


def test_batch_of_n_matches_batch_of_one(tiny_pair: tuple[Any, Any], tmp_path: Path) -> None:
    model, tokenizer = tiny_pair
    assert next(model.parameters()).dtype is torch.float32
    _assert_batch_size_does_not_matter(model, tokenizer, tmp_path)


def test_rows_that_stop_early_match_too(arch: str, tmp_path: Path) -> None:
    model, tokenizer = tiny_model(arch), tiny_tokenizer(template_for(arch))
    stop_ids = Generator(model, tokenizer, cache_dir=tmp_path / "unused").stop_ids
    with torch.no_grad():
        model.get_output_embeddings().weight[stop_ids] *= STOP_BOOST[arch]
    rows = _assert_batch_size_does_not_matter(model, tokenizer, tmp_path)
    steps = _stop_steps(rows, stop_ids)
    # the batch held rows that stopped at different steps while others went on
    assert len(set(steps)) >= 3 and any(step is not None for step in steps), steps


def _stop_steps(rows: list[list[int]], stop_ids: list[int]) -> list[int | None]:
    return [next((i for i, token in enumerate(row) if token in stop_ids), None) for row in rows]


@pytest.mark.integration
@needs_default_model
def test_embedded_model_batch_of_n_matches_batch_of_one(tmp_path: Path) -> None:
    from harc.models import load_default
    from harc.positions import chat_format

    loaded = load_default(dtype="float32")
    chat = chat_format(loaded)
    rows = _assert_batch_size_does_not_matter(
        loaded.model, loaded.tokenizer, tmp_path, chat=chat, max_new_tokens=12
    )
    stop_ids = Generator(loaded.model, loaded.tokenizer, chat=chat, cache_dir=tmp_path).stop_ids
    steps = _stop_steps(rows, stop_ids)
    assert None in steps and any(step is not None for step in steps), steps
