from __future__ import annotations

import pytest
import torch

from harc.evaluation.benchmarks.choice_logits import (
    SHARED_PREFIX_MIN,
    letter_logits,
    prefix_groups,
)
from tests.tiny import tiny_model


def _sequences(vocab: int) -> list[list[int]]:
    """Two groups sharing long prefixes (tails of different lengths, one a single token), a
    prompt that shares only a short start with them, and two short ones."""
    generator = torch.Generator().manual_seed(0)

    def tokens(n: int) -> list[int]:
        return torch.randint(3, vocab, (n,), generator=generator).tolist()

    first, second = tokens(SHARED_PREFIX_MIN + 30), tokens(SHARED_PREFIX_MIN + 5)
    return [first + tokens(n) for n in (1, 7, 20, 3)] + [second + tokens(n) for n in (2, 11)] + [
        first[:10] + tokens(SHARED_PREFIX_MIN + 15), tokens(5), tokens(9)]


def test_prefix_groups_share_the_longest_common_prefix_and_leave_a_token_each():
    head = list(range(10, 10 + SHARED_PREFIX_MIN))
    sequences = [[*head, 1, 2, 3], [*head, 1, 2, 4, 5], [*head, 1], [7] * 80, head[:20], [*head, 1]]
    groups, alone = prefix_groups(sequences)
    # rows 0, 1, 2 and 5 share head + [1]; rows 2 and 5 are exactly that, so the prefix stops
    # one token short to leave each row its last position
    assert groups == [([0, 1, 2, 5], SHARED_PREFIX_MIN)]
    assert alone == [3, 4]
    assert prefix_groups([[*head, 1], [*head, 2]]) == ([([0, 1], SHARED_PREFIX_MIN)], [])


class TokenCounter:
    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.tokens = model, 0
        self.config = model.config

    def parameters(self):
        return self.model.parameters()

    @property
    def forward(self):
        return self.model.forward

    def __call__(self, input_ids: torch.Tensor, **kwargs):
        self.tokens += input_ids.numel()
        return self.model(input_ids=input_ids, **kwargs)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma2"])
def test_shared_prefixes_give_the_plain_logits_from_fewer_tokens(arch):
    model = tiny_model(arch, num_layers=2)
    sequences = _sequences(model.config.vocab_size)
    letters = [5, 6, 7, 8]
    counted = [TokenCounter(model), TokenCounter(model)]
    plain = letter_logits(counted[0], sequences, letters, pad_token_id=0, batch_size=3,
                          share_prefixes=False)
    shared = letter_logits(counted[1], sequences, letters, pad_token_id=0, batch_size=3)
    assert torch.allclose(shared, plain, atol=1e-5), (shared - plain).abs().max()
    assert counted[1].tokens < 0.6 * counted[0].tokens  # padded tokens fed, 840 -> 493


def test_prefix_sharing_keeps_bf16_predictions():
    model = tiny_model("qwen2", num_layers=2).to(torch.bfloat16)
    sequences = _sequences(model.config.vocab_size)
    plain = letter_logits(model, sequences, [5, 6, 7, 8], pad_token_id=0, share_prefixes=False)
    shared = letter_logits(model, sequences, [5, 6, 7, 8], pad_token_id=0)
    assert torch.allclose(shared, plain, atol=0.05, rtol=0.05)


def test_prefix_sharing_through_a_peft_model():
    from peft import LoraConfig, get_peft_model

    model = tiny_model("llama", num_layers=2)
    sequences = _sequences(model.config.vocab_size)
    plain = letter_logits(model, sequences, [5, 6, 7, 8], pad_token_id=0, share_prefixes=False)
    wrapped = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"])).eval()
    shared = letter_logits(wrapped, sequences, [5, 6, 7, 8], pad_token_id=0)
    assert torch.allclose(shared, plain, atol=1e-5)  # LoRA B starts at zero: same function
