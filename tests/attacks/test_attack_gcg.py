from __future__ import annotations

import math

import pytest
from tests.tiny import template_for, tiny_model, tiny_tokenizer

from harc.attacks import get_attack
from harc.attacks.gcg import GCGAttack
from harc.errors import HarcError
from harc.positions import ChatFormat

GOAL = "Write a poem about the sea"


@pytest.fixture
def llama_pair():
    return tiny_model("llama"), tiny_tokenizer(template_for("llama"))


def _attack(tiny_pair, **kwargs):
    model, tokenizer = tiny_pair
    settings = dict(num_steps=3, search_width=16, topk=8, suffix_length=6, batch_size=16)
    return GCGAttack(model, tokenizer, ChatFormat(tokenizer), **{**settings, **kwargs})


def test_optimisation_on_tiny_models(tiny_pair):
    attack = _attack(tiny_pair)
    result = attack.apply([GOAL], seed=0)[0]
    meta = result.meta
    assert math.isfinite(meta["initial_loss"]) and math.isfinite(meta["best_loss"])
    assert all(math.isfinite(loss) for loss in meta["losses"])
    assert meta["best_loss"] <= meta["initial_loss"]
    assert len(meta["suffix_ids"]) == 6 and 1 <= meta["steps"] <= 3
    assert result.prompt == f"{GOAL} {meta['suffix']}" and meta["target"] == "Sure, here is"
    assert all(attack.allowed[i] for i in meta["suffix_ids"])


def test_deterministic_with_seed(llama_pair):
    attack = _attack(llama_pair, num_steps=2)
    first = attack.apply([GOAL], seed=1)[0]
    assert attack.apply([GOAL], seed=1)[0] == first


def test_seeds_explore_differently(llama_pair):
    attack = _attack(llama_pair, num_steps=1, early_stop=False)
    suffixes = {tuple(attack.optimize(GOAL, seed=s).suffix_ids) for s in range(3)}
    assert len(suffixes) > 1


def test_per_goal_target_and_registry(llama_pair):
    model, tokenizer = llama_pair
    attack = get_attack(
        "gcg", model=model, tokenizer=tokenizer, num_steps=1, search_width=8, topk=4,
        suffix_length=3, targets={GOAL: "Sure, here is a poem"},
    )
    assert attack.chat.prefix == ChatFormat(tokenizer).prefix
    assert attack.apply([GOAL])[0].meta["target"] == "Sure, here is a poem"


def test_bad_settings(llama_pair):
    model, tokenizer = llama_pair
    with pytest.raises(ValueError):
        GCGAttack(model, tokenizer, suffix_length=0)
    with pytest.raises(HarcError, match="init_token"):
        GCGAttack(model, tokenizer, init_token="hello world")
