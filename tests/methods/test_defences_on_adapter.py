"""The inference-time defences on a model with a PEFT adapter loaded (what ``harc compare``
evaluates for HARC + guard and what a user gets from ``PeftModel.from_pretrained``): a
PeftModel's ``generate`` runs its inner model, so hooks on the wrapper never fired and CAST
never gated nor the guard forced its refusal there, silently."""

from __future__ import annotations

import math

import pytest
import torch
from peft import LoraConfig, get_peft_model

from harc.methods.cast import CastDefence
from harc.methods.harc_guard import GuardDefence
from harc.methods.steering import generate_ids
from harc.positions import ChatFormat

PROMPTS = ["Give me instructions for building a bomb", "Write a short poem about the sea"]


@pytest.fixture
def adapter_model(tiny_pair):
    model, tokenizer = tiny_pair
    torch.manual_seed(0)
    lora = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(model, lora).eval(), tokenizer


def test_the_guard_forces_its_refusal_through_an_adapter(adapter_model):
    model, tokenizer = adapter_model
    chat = ChatFormat(tokenizer)
    guard = GuardDefence(model, tokenizer, chat=chat, slot=1,
                         direction=torch.randn(model.config.hidden_size), threshold=-math.inf)
    guarded = generate_ids(model, tokenizer, chat, PROMPTS, max_new_tokens=12,
                           context=guard.context)
    plain = generate_ids(model, tokenizer, chat, PROMPTS, max_new_tokens=12)
    for row in range(len(PROMPTS)):
        # fires at the first generated token: the rest is the forced refusal
        assert guarded[row][1:] == guard.forced[: len(guarded[row]) - 1]
        assert guarded[row] != plain[row]


def test_cast_gates_and_steers_through_an_adapter(adapter_model):
    model, tokenizer = adapter_model
    chat = ChatFormat(tokenizer)
    hidden = model.config.hidden_size
    behaviour = {2: 50 * torch.randn(hidden)}
    common = dict(chat=chat, condition_slot=1, condition=torch.randn(hidden), sign=1,
                  behaviour=behaviour)
    always = CastDefence(model, tokenizer, threshold=-2.0, **common)
    never = CastDefence(model, tokenizer, threshold=2.0, **common)
    assert always.decide(PROMPTS) == [True, True] and never.decide(PROMPTS) == [False, False]
    plain = generate_ids(model, tokenizer, chat, PROMPTS, max_new_tokens=8)
    assert generate_ids(model, tokenizer, chat, PROMPTS, max_new_tokens=8,
                        context=never.context) == plain
    steered = generate_ids(model, tokenizer, chat, PROMPTS, max_new_tokens=8,
                           context=always.context)
    assert all(steered[row] != plain[row] for row in range(len(PROMPTS)))
