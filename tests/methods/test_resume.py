"""An interrupted baseline training continues from its last checkpoint: the TRL methods (SFT)
and the own-loop methods (circuit breakers) end where an uninterrupted run ends, their time is
carried over, and checkpoints of other settings or another model are refused."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from harc.errors import HarcError
from harc.methods import get_method, method_config
from harc.training.optimization import LoraOptimization
from tests.methods.helpers import LORA, tiny_data, tiny_loaded

STEPS = {"sft": {"lora": LORA, "lr": 1e-3, "max_steps": 6, "batch_size": 2, "grad_accum": 1,
                 "warmup": 0, "checkpoint_every": 2},
         "circuit_breakers": {"lora": LORA, "lr": 1e-3, "max_steps": 6, "batch_size": 2,
                              "grad_accum": 1, "warmup_steps": 0, "checkpoint_every": 2}}


class Interrupted(Exception):
    pass


def _interrupt_after(monkeypatch, name: str, steps: int) -> list[int]:
    """Make the next run of ``name`` fail in its optimizer step ``steps + 1``; returns the
    list its steps are counted in."""
    if name == "sft":
        trl = pytest.importorskip("trl")
        cls, attribute = trl.SFTTrainer, "training_step"
    else:
        cls, attribute = LoraOptimization, "step"
    original, calls = getattr(cls, attribute), []

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > steps:
            raise Interrupted
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, attribute, failing)
    return calls


def _run(name: str, out, loaded=None, **overrides):
    config = method_config(name, **{**STEPS[name], **overrides})
    return get_method(name).run(loaded or tiny_loaded(), tiny_data(), out, config,
                                progress=False)


def _weights(output) -> dict[str, torch.Tensor]:
    return load_file(str(output.adapter_dir / "adapter_model.safetensors"))


@pytest.mark.parametrize("name", ["sft", "circuit_breakers"])
def test_an_interrupted_training_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch,
                                                                      name):
    if name == "sft":
        pytest.importorskip("trl")
    whole = _run(name, tmp_path / "whole")
    with monkeypatch.context() as patch:
        _interrupt_after(patch, name, 5)
        with pytest.raises(Interrupted):
            _run(name, tmp_path / "cut")
    with monkeypatch.context() as patch:
        steps_run = _interrupt_after(patch, name, 100)
        resumed = _run(name, tmp_path / "cut")
    assert len(steps_run) == 2  # steps 5 and 6: continued from step 4, not trained again
    expected, got = _weights(whole), _weights(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6)
    assert resumed.steps == whole.steps == 6
    if name == "circuit_breakers":  # the log holds each step once, as an uninterrupted run's
        steps = [json.loads(line)["step"] for line in resumed.log_path.read_text().splitlines()]
        assert steps == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("name", ["sft", "circuit_breakers"])
def test_the_time_up_to_the_checkpoint_is_carried_and_other_settings_are_refused(
        tmp_path, monkeypatch, name):
    if name == "sft":
        pytest.importorskip("trl")
    with monkeypatch.context() as patch:
        _interrupt_after(patch, name, 4)
        with pytest.raises(Interrupted):
            _run(name, tmp_path)
    record = (tmp_path / "trainer" / "checkpoint-4" / "harc_seconds.json" if name == "sft"
              else tmp_path / "checkpoints" / "step-000004" / "state.json")
    state = json.loads(record.read_text())
    assert state["seconds"] > 0
    state["seconds"] = 1000.0
    record.write_text(json.dumps(state))
    with pytest.raises(HarcError, match=r"other settings \(lr\)"):
        _run(name, tmp_path, lr=2e-3)
    other_model = dataclasses.replace(tiny_loaded(), name="another model of the same shape")
    with pytest.raises(HarcError, match=r"other settings \(model\)"):
        _run(name, tmp_path, loaded=other_model)
    resumed = _run(name, tmp_path, checkpoint_every=3)  # not a setting of the result
    assert resumed.seconds > 1000
