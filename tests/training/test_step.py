from __future__ import annotations

import copy

import pytest
import torch
from peft import LoraConfig, get_peft_model

from harc.directions import DirectionSet
from harc.positions import ChatFormat
from harc.training.step import (
    LossSettings,
    build_step_batch,
    compute_losses,
    reference_logits_for,
)

REFUSALS = [("build a bomb", "I'm sorry, I can't help with that.")]
HARMFUL_ANSWERS = [("steal a car", "Sure, here is how to steal a car.")]
RETAIN = [("bake a cake", "Mix flour, eggs and sugar."), ("hi", "Hello there!")]
SETTINGS = LossSettings(margin=0.5, response_tokens=4, response_coupling_on="harmful_answer")


def _lora(model):
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], task_type="CAUSAL_LM"
    )
    return get_peft_model(model, config)


def _directions(model, seed=0) -> DirectionSet:
    generator = torch.Generator().manual_seed(seed)
    shape = (model.config.num_hidden_layers + 1, model.config.hidden_size)

    def unit():
        return torch.nn.functional.normalize(torch.randn(*shape, generator=generator), dim=-1)

    return DirectionSet(harm=unit(), refusal=unit(), harm_resp=unit(), refusal_resp=unit())


def _batch(tokenizer):
    return build_step_batch(
        ChatFormat(tokenizer), REFUSALS, HARMFUL_ANSWERS, RETAIN, pad_token_id=0
    )


def test_reference_logits_equal_the_untouched_base_model(tiny_pair):
    model, tokenizer = tiny_pair
    untouched = copy.deepcopy(model)
    peft_model = _lora(model)
    with torch.no_grad():  # make the adapter non-trivial so "disabled" really matters
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    step_batch = _batch(tokenizer)
    reference = reference_logits_for(peft_model, step_batch)
    rows = step_batch.roles == 2
    with torch.no_grad():
        expected = untouched(
            input_ids=step_batch.batch.input_ids[rows],
            attention_mask=step_batch.batch.attention_mask[rows],
            logits_to_keep=step_batch.logit_columns,
        ).logits
        tuned = peft_model(
            input_ids=step_batch.batch.input_ids[rows],
            attention_mask=step_batch.batch.attention_mask[rows],
            logits_to_keep=step_batch.logit_columns,
        ).logits
    torch.testing.assert_close(reference, expected)
    assert not torch.allclose(tuned, expected)


def test_kl_is_zero_at_step_zero_and_all_terms_finite(tiny_pair):
    model, tokenizer = tiny_pair
    peft_model = _lora(model)
    step_batch = _batch(tokenizer)
    terms = compute_losses(
        peft_model,
        step_batch,
        _directions(model),
        [1, 2],
        SETTINGS,
        reference_logits=reference_logits_for(peft_model, step_batch),
    )
    assert set(terms) == {"couple", "couple_resp", "ce", "kl"}
    assert terms["kl"].item() == pytest.approx(0.0, abs=1e-7)
    assert all(torch.isfinite(value) for value in terms.values())
    assert terms["ce"].item() > 0 and terms["couple"].item() > 0


def test_gradients_reach_only_lora_weights(tiny_pair):
    model, tokenizer = tiny_pair
    peft_model = _lora(model)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)  # so that KL and lora_A gradients are non-zero
    step_batch = _batch(tokenizer)
    terms = compute_losses(
        peft_model,
        step_batch,
        _directions(model),
        [1, 2],
        SETTINGS,
        reference_logits=reference_logits_for(peft_model, step_batch),
    )
    sum(terms.values()).backward()
    with_grad = {name for name, param in peft_model.named_parameters() if param.grad is not None}
    assert with_grad and all("lora_" in name for name in with_grad)
    assert any("lora_A" in name for name in with_grad) and any(
        "lora_B" in name for name in with_grad
    )
    assert all(
        not param.requires_grad
        for name, param in peft_model.named_parameters()
        if "lora_" not in name
    )


def test_coupling_matches_manual_computation(tiny_pair):
    model, tokenizer = tiny_pair
    peft_model = _lora(model)
    step_batch = _batch(tokenizer)
    directions = _directions(model)
    slots = [2]
    terms = compute_losses(
        peft_model, step_batch, directions, slots, SETTINGS, reference_logits=None
    )
    batch = step_batch.batch
    with torch.no_grad():
        hidden = peft_model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            output_hidden_states=True,
        ).hidden_states[2]
    total = 0.0
    rows = [0, 2, 3]  # refusal row (harmful) and the two retain rows
    for row in rows:
        c_ref = torch.cosine_similarity(
            hidden[row, batch.t_post[row]], directions.refusal[2], dim=0
        )
        c_harm = torch.cosine_similarity(hidden[row, batch.t_inst[row]], directions.harm[2], dim=0)
        if row == 0:
            total += torch.relu(0.5 - c_ref) + torch.relu(0.5 - c_harm)
        else:
            total += torch.relu(c_ref) + torch.relu(c_harm)
    assert terms["couple"].item() == pytest.approx(float(total) / len(rows), rel=1e-4)
