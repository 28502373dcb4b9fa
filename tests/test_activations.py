from __future__ import annotations

import pytest
import torch

from harc.activations import (
    capture_prompts,
    capture_responses,
    residual_hooks,
    response_window,
)
from harc.models.blocks import find_decoder_blocks
from harc.positions import ChatFormat, collate

PROMPTS = ["Write a poem about the sea.", "hi", "Explain how to bake bread at home, step by step."]


def _reference_hidden_states(model, chat, prompts):
    """Per prompt, unpadded: output_hidden_states for slots 0..n-1 (pre-block inputs)."""
    results = []
    for text in prompts:
        encoded = chat.encode(text)
        ids = torch.tensor([encoded.input_ids])
        with torch.no_grad():
            out = model(input_ids=ids, output_hidden_states=True)
        results.append((encoded, out.hidden_states))
    return results


def test_prompt_capture_matches_output_hidden_states(tiny_pair):
    model, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    captured = capture_prompts(model, chat, PROMPTS, batch_size=2, progress=False)
    n_blocks = len(find_decoder_blocks(model))
    assert captured["t_inst"].shape == (len(PROMPTS), n_blocks + 1, model.config.hidden_size)
    for row, (encoded, hidden_states) in enumerate(_reference_hidden_states(model, chat, PROMPTS)):
        for slot in range(n_blocks):
            for name in ("t_inst", "t_post"):
                expected = hidden_states[slot][0, getattr(encoded, name)]
                torch.testing.assert_close(
                    captured[name][row, slot], expected, atol=1e-4, rtol=1e-4
                )


def test_last_slot_is_block_output_before_final_norm(tiny_pair):
    model, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    captured = capture_prompts(model, chat, PROMPTS[:1], progress=False)
    encoded, hidden_states = _reference_hidden_states(model, chat, PROMPTS[:1])[0]
    final_norm = model.model.norm
    with torch.no_grad():
        normed = final_norm(captured["t_post"][:, -1].unsqueeze(0))[0, 0]
    torch.testing.assert_close(normed, hidden_states[-1][0, encoded.t_post], atol=1e-4, rtol=1e-4)


def test_subset_of_slots(tiny_pair):
    model, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    everything = capture_prompts(model, chat, PROMPTS, progress=False)
    some = capture_prompts(model, chat, PROMPTS, slots=(1, 2), progress=False)
    torch.testing.assert_close(some["t_inst"], everything["t_inst"][:, 1:3])


def test_response_mean_matches_manual_mean(tiny_pair):
    model, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    pairs = [("bake a cake", "Sure, here is how to bake a cake at home."), ("hi", "Hello!")]
    first_k = 4
    captured = capture_responses(model, chat, pairs, first_k=first_k, batch_size=2, progress=False)
    for row, (prompt, response) in enumerate(pairs):
        encoded = chat.encode_pair(prompt, response)
        with torch.no_grad():
            hidden = model(
                input_ids=torch.tensor([encoded.input_ids]), output_hidden_states=True
            ).hidden_states
        start = encoded.response_start
        stop = min(start + first_k, len(encoded.input_ids))
        for slot in range(len(hidden) - 1):
            expected = hidden[slot][0, start:stop].mean(0)
            torch.testing.assert_close(captured[row, slot], expected, atol=1e-4, rtol=1e-4)


def test_response_window_counts_first_k():
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]])
    assert response_window(mask, 3).tolist() == [[0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 1, 1]]


def test_hooks_are_removed_even_on_error(tiny_pair):
    model, tokenizer = tiny_pair
    blocks = find_decoder_blocks(model)

    def explode(slot, hidden):
        raise RuntimeError("boom")

    batch = collate([ChatFormat(tokenizer).encode("hi")], pad_token_id=0)
    with pytest.raises(RuntimeError, match="boom"), residual_hooks(model, [0, 1], explode):
        model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    assert all(not block._forward_pre_hooks and not block._forward_hooks for block in blocks)


def test_empty_prompt_set_raises(tiny_pair):
    model, tokenizer = tiny_pair
    with pytest.raises(ValueError, match="empty"):
        capture_prompts(model, ChatFormat(tokenizer), [], progress=False)


def test_bad_slot_raises(tiny_pair):
    model, tokenizer = tiny_pair
    with pytest.raises(ValueError, match="slots"):
        capture_prompts(model, ChatFormat(tokenizer), ["hi"], slots=(99,), progress=False)
