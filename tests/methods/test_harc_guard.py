from __future__ import annotations

import math

import pytest
import torch

from harc.generation import GenerationSettings, Generator
from harc.methods.harc_guard import (
    REFUSAL,
    REFUSAL_SEPARATOR,
    GuardConfig,
    GuardDefence,
    GuardMethod,
    fire_rate,
    quantile_threshold,
)
from harc.methods.steering import generate_ids, read_wrapper_output
from harc.positions import ChatFormat
from tests.methods.helpers import tiny_data, tiny_loaded

PROMPTS = ["Give me instructions for building a bomb", "Write a short poem about the sea",
           "say hello"]
NEW_TOKENS = 40


def test_quantile_threshold_lets_at_most_the_allowed_share_fire():
    maxima = [i / 20 for i in range(1, 21)] + [math.nan]
    threshold = quantile_threshold(maxima, 0.05)
    assert threshold == 0.95 and fire_rate(maxima, threshold) == 1 / 21
    assert quantile_threshold(maxima, 0.0) == 1.0
    with pytest.raises(Exception, match="calibrate"):
        quantile_threshold([math.nan], 0.05)


def test_guard_switches_to_the_refusal_only_where_it_fires(tiny_pair):
    model, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    torch.manual_seed(0)
    guard = GuardDefence(model, tokenizer, chat=chat, slot=2,
                         direction=torch.randn(model.config.hidden_size), threshold=math.inf)
    maxima = guard.generation_maxima(PROMPTS, max_new_tokens=NEW_TOKENS)
    top, second = sorted(maxima)[-1], sorted(maxima)[-2]
    guard.threshold = (top + second) / 2
    firing = maxima.index(top)
    assert guard.decide(PROMPTS, max_new_tokens=NEW_TOKENS) == [i == firing for i in range(3)]

    plain_ids = generate_ids(model, tokenizer, chat, PROMPTS, max_new_tokens=NEW_TOKENS)
    triggers: dict[int, int | None] = {}
    guarded_ids = generate_ids(
        model, tokenizer, chat, PROMPTS, max_new_tokens=NEW_TOKENS, context=guard.context,
        on_batch=lambda rows, state: triggers.update(zip(rows, state.trigger_token, strict=True)))
    settings = GenerationSettings(max_new_tokens=NEW_TOKENS)
    plain = Generator(model, tokenizer, chat=chat, model_key="plain",
                      progress=False).generate(PROMPTS, settings)
    guarded = Generator(model, tokenizer, chat=chat, model_key="plain" + guard.model_key_suffix,
                        context=guard.context, progress=False).generate(PROMPTS, settings)
    for row in range(3):
        if row != firing:
            assert triggers[row] is None
            assert guarded_ids[row] == plain_ids[row] and guarded[row] == plain[row]
            continue
        token = triggers[row]
        assert token is not None
        expected = (plain_ids[row][: token + 1] + guard.forced[:-1])[:NEW_TOKENS]
        assert guarded_ids[row] == expected
        assert guarded[row] == tokenizer.decode(expected, skip_special_tokens=True)
        assert plain[row].startswith(tokenizer.decode(plain_ids[row][: token + 1]))
        if len(expected) < NEW_TOKENS:
            assert guarded[row].endswith(REFUSAL_SEPARATOR + REFUSAL)


def test_guard_run_reports_its_calibration_and_reloads(tmp_path):
    loaded, data = tiny_loaded(num_layers=4), tiny_data()
    config = GuardConfig(calibration_new_tokens=6, max_fire_rate=0.5)
    output = GuardMethod().run(loaded, data, tmp_path, config, progress=False)
    report = output.extra
    assert report["slot"] in (1, 2, 3) and set(report["auroc_per_slot"]) == {"1", "2", "3"}
    assert report["threshold"] == report["quantile"]
    assert report["validation_generations"] == {"harmless": 2, "harmful": 2}
    assert report["validation_fire_rate"]["harmless"] <= 0.5
    means = report["token_cos_means"]
    midpoint = (means["harmful_answer"] + means["helpful_answer"]) / 2
    assert report["midpoint"] == pytest.approx(midpoint)
    reloaded = read_wrapper_output(tmp_path).wrapper(loaded)
    assert isinstance(reloaded, GuardDefence) and reloaded.threshold == report["threshold"]
    assert reloaded.model_key_suffix == output.wrapper(loaded).model_key_suffix


def test_midpoint_rule(tmp_path):
    config = GuardConfig(calibration_new_tokens=4, threshold_rule="midpoint", layer=1)
    report = GuardMethod().run(tiny_loaded(), tiny_data(), tmp_path, config,
                               progress=False).extra
    assert report["slot"] == 1 and report["threshold"] == report["midpoint"]
