from __future__ import annotations

import json
import math

import pytest
import torch
from peft import PeftModel

from harc.methods import get_method, method_config
from harc.methods.circuit_breakers import (
    NOT_REROUTED,
    CircuitBreakersLoss,
    cb_coefficients,
    rerouting_loss,
    retain_loss,
)
from harc.methods.representations import target_slots
from tests.methods.helpers import LORA, same_state, state_copy, tiny_data, tiny_loaded
from tests.tiny import tiny_model


def _hidden(*vectors: list[float]) -> torch.Tensor:
    """One row, one slot: [1, T, 1, D]."""
    return torch.tensor(vectors, dtype=torch.float32)[None, :, None, :]


def test_rerouting_loss_is_the_mean_relu_cosine_over_masked_tokens():
    tuned = _hidden([2.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0])
    original = _hidden([1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0])
    all_tokens = torch.ones(1, 4, dtype=torch.bool)
    # cosines 1, 0, -1 (relu -> 0), 1/sqrt(2)
    expected = (1.0 + 0.0 + 0.0 + 1 / math.sqrt(2)) / 4
    assert float(rerouting_loss(tuned, original, all_tokens)) == pytest.approx(expected)
    some = torch.tensor([[False, True, True, False]])
    assert float(rerouting_loss(tuned, original, some)) == pytest.approx(0.0)


def test_rerouting_loss_averages_over_slots_and_only_tuned_gets_gradient():
    tuned = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]], requires_grad=True)  # [1, 1, 2, 2]
    original = torch.tensor([[[[1.0, 0.0], [1.0, 1.0]]]], requires_grad=True)
    loss = rerouting_loss(tuned, original, torch.ones(1, 1, dtype=torch.bool))
    assert float(loss.detach()) == pytest.approx((1.0 + 1 / math.sqrt(2)) / 2)
    loss.backward()
    assert tuned.grad is not None and original.grad is None


def test_retain_loss_is_the_mean_l2_distance_over_masked_tokens():
    tuned = _hidden([3.0, 4.0], [1.0, 1.0], [10.0, 0.0])
    original = _hidden([0.0, 0.0], [1.0, 1.0], [0.0, 0.0])
    mask = torch.tensor([[True, True, False]])
    assert float(retain_loss(tuned, original, mask)) == pytest.approx((5.0 + 0.0) / 2)
    assert float(retain_loss(tuned, original, torch.zeros(1, 3, dtype=torch.bool))) == 0.0


def test_coefficient_schedule_matches_the_paper():
    assert cb_coefficients(0, 150, 10.0) == (0.0, 10.0)
    c_retain, c_rr = cb_coefficients(75, 150, 10.0)
    assert c_retain == pytest.approx(2.5) and c_rr == pytest.approx(7.5)
    assert cb_coefficients(150, 150, 10.0) == pytest.approx((5.0, 5.0))


def test_target_layers_by_relative_depth():
    assert target_slots(tiny_model("qwen2", num_layers=32), [10 / 32, 20 / 32]) == [10, 20]
    assert target_slots(tiny_model("qwen2", num_layers=3), [10 / 32, 20 / 32]) == [1, 2]
    assert target_slots(tiny_model("qwen2", num_layers=3), [0.5], layers=[3, 1]) == [1, 3]
    with pytest.raises(ValueError, match=r"1\.\.3"):
        target_slots(tiny_model("qwen2", num_layers=3), [0.5], layers=[4])


def _config(**overrides):
    values = {"lora": LORA, "lr": 1e-3, "max_steps": 2, "batch_size": 2, "max_length": 64}
    return method_config("circuit_breakers", **{**values, **overrides})


def test_schedule_uses_the_optimizer_step_under_gradient_accumulation(tmp_path, monkeypatch):
    seen: list[tuple[int, int, float, float]] = []
    original_call = CircuitBreakersLoss.__call__

    def recording(self, model, step, micro):
        terms = original_call(self, model, step, micro)
        seen.append((step, micro, float(terms["c_retain"]), float(terms["c_rr"])))
        return terms

    monkeypatch.setattr(CircuitBreakersLoss, "__call__", recording)
    config = _config(grad_accum=4, max_steps=3, batch_size=1)
    get_method("circuit_breakers").run(tiny_loaded(), tiny_data(), tmp_path, config, progress=False)
    assert [(step, micro) for step, micro, _, _ in seen] == [
        (k, m) for k in (1, 2, 3) for m in range(4)
    ]
    for step, _, c_retain, c_rr in seen:
        assert (c_retain, c_rr) == pytest.approx(cb_coefficients(step, 3, config.alpha))
    # A per-micro-batch counter (the original code) would have reached t = 12 of 2T = 6.
    assert seen[-1][2] == pytest.approx(config.alpha * 3 / 6)
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [row["c_retain"] for row in log] == pytest.approx(
        [cb_coefficients(k, 3, config.alpha)[0] for k in (1, 2, 3)]
    )


def test_two_step_run_saves_a_loadable_adapter_and_restores_the_model(tmp_path, arch, caplog):
    loaded = tiny_loaded(arch)
    before = state_copy(loaded.model)
    output = get_method("circuit_breakers").run(
        loaded, tiny_data(), tmp_path, _config(), progress=False
    )
    assert output.kind == "adapter" and output.steps == 2
    log = [json.loads(line) for line in output.log_path.read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2]
    # step 1: the adapter is still the identity, so the tuned model equals the original
    assert log[0]["retain"] == pytest.approx(0.0, abs=1e-6)
    assert log[0]["rerouting"] == pytest.approx(1.0, abs=1e-5)
    # two steps cannot turn the representations: the run says so
    assert output.extra["final_rerouting"] == pytest.approx(log[-1]["rerouting"])
    assert log[-1]["rerouting"] > NOT_REROUTED
    assert "barely turned" in caplog.text
    assert [text for text in output.extra["warnings"] if "barely turned" in text]
    assert same_state(loaded.model, before) and not loaded.model.training
    reloaded = PeftModel.from_pretrained(tiny_model(arch), str(output.adapter_dir))
    lora_blocks = {
        int(name.split(".layers.")[1].split(".")[0])
        for name, _ in reloaded.named_parameters()
        if "lora_A" in name
    }
    assert lora_blocks == {0, 1}  # only blocks below the deepest target slot (2)


def test_a_run_that_turns_the_representations_does_not_warn(tmp_path, caplog):
    config = _config(lr=1e-2, max_steps=10, warmup_steps=0)
    output = get_method("circuit_breakers").run(
        tiny_loaded(), tiny_data(), tmp_path, config, progress=False
    )
    assert output.extra["final_rerouting"] < 0.6
    assert "barely turned" not in caplog.text and output.extra["warnings"] == []


def test_missing_harmful_answers_is_an_error(tmp_path):
    with pytest.raises(Exception, match="harmful answers"):
        get_method("circuit_breakers").run(
            tiny_loaded(), tiny_data(harmful_answers=False), tmp_path, _config(), progress=False
        )
