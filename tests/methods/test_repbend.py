from __future__ import annotations

import json
import math

import pytest
import torch
from peft import PeftModel

from harc.methods import get_method, method_config
from harc.methods.repbend import DIVERGED_KL, RepBendLoss, distance_term, unsafe_cosine
from tests.methods.helpers import LORA, same_state, state_copy, tiny_data, tiny_loaded
from tests.tiny import tiny_model


def _rows(*rows: list[list[float]]) -> torch.Tensor:
    """[rows, T, 1 slot, D] from per-row token vectors."""
    return torch.tensor(rows, dtype=torch.float32)[:, :, None, :]


def test_distance_term_is_half_the_mean_l2_distance():
    tuned = _rows([[3.0, 4.0], [1.0, 0.0]], [[0.0, 2.0], [9.0, 9.0]])
    original = torch.zeros_like(tuned)
    mask = torch.tensor([[True, True], [True, False]])
    assert float(distance_term(tuned, original, mask)) == pytest.approx(0.5 * (5 + 1 + 2) / 3)


def test_unsafe_cosine_is_the_mean_pairwise_cosine_of_row_means():
    # row means over masked tokens: [1, 0], [0, 1], [1, 1] (row 0's second token is masked out)
    tuned = _rows([[1.0, 0.0], [0.0, 100.0]], [[0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])
    mask = torch.tensor([[True, False], [True, True], [True, True]])
    # pairs (0,1): 0, (0,2): 1/sqrt(2), (1,2): 1/sqrt(2), each counted both ways
    expected = (0 + 2 / math.sqrt(2)) / 3
    assert float(unsafe_cosine(tuned, mask)) == pytest.approx(expected)
    assert float(unsafe_cosine(tuned[:1], mask[:1])) == 0.0
    same = _rows([[1.0, 0.0]], [[2.0, 0.0]])
    assert float(unsafe_cosine(same, torch.ones(2, 1, dtype=torch.bool))) == pytest.approx(1.0)


def _config(**overrides):
    values = {"lora": LORA, "lr": 1e-3, "max_steps": 2, "batch_size": 2, "max_length": 64}
    return method_config("repbend", **{**values, **overrides})


def test_first_step_terms_measure_against_the_adapter_disabled_model(tmp_path, monkeypatch):
    seen: list[dict[str, float]] = []
    original_call = RepBendLoss.__call__

    def recording(self, model, step, micro):
        terms = original_call(self, model, step, micro)
        seen.append({name: float(value.detach()) for name, value in terms.items()})
        return terms

    monkeypatch.setattr(RepBendLoss, "__call__", recording)
    config = _config(alpha=0.5, beta=2.0, gamma=3.0)
    get_method("repbend").run(tiny_loaded(), tiny_data(), tmp_path, config, progress=False)
    first = seen[0]
    # LoRA starts as the identity: no displacement and no KL, only the cosine term is live
    assert first["safe"] == pytest.approx(0.0, abs=1e-6)
    assert first["unsafe"] == pytest.approx(0.0, abs=1e-6)
    assert first["kl"] == pytest.approx(0.0, abs=1e-6)
    assert first["loss"] == pytest.approx(3.0 * first["cosine"], abs=1e-5)
    later = seen[-1]
    assert later["unsafe"] > 0
    assert later["loss"] == pytest.approx(
        later["safe"] - 0.5 * later["unsafe"] + 2.0 * later["kl"] + 3.0 * later["cosine"],
        abs=1e-5,
    )


def test_two_step_run_saves_a_loadable_adapter_and_restores_the_model(tmp_path, arch, caplog):
    loaded = tiny_loaded(arch)
    before = state_copy(loaded.model)
    output = get_method("repbend").run(loaded, tiny_data(), tmp_path, _config(), progress=False)
    assert output.extra["final_safe_kl"] < DIVERGED_KL and "diverged" not in caplog.text
    assert output.extra["warnings"] == []
    log = [json.loads(line) for line in output.log_path.read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2]
    assert {"safe", "unsafe", "kl", "cosine", "loss", "lr"} <= log[0].keys()
    assert same_state(loaded.model, before) and not loaded.model.training
    reloaded = PeftModel.from_pretrained(tiny_model(arch), str(output.adapter_dir))
    assert any("lora_B" in name for name, _ in reloaded.named_parameters())


def test_a_run_that_runs_away_says_it_diverged(tmp_path, caplog):
    loaded = tiny_loaded()
    # A random tiny model's next-token distribution is near uniform, so no change of its states
    # moves the KL; a scaled head makes it peaked like a trained model's.
    with torch.no_grad():
        loaded.model.lm_head.weight.mul_(100.0)
    config = _config(lr=0.5, max_steps=10, warmup_steps=0)
    output = get_method("repbend").run(loaded, tiny_data(), tmp_path, config, progress=False)
    assert output.extra["final_safe_kl"] > DIVERGED_KL
    assert "RepBend diverged" in caplog.text
    assert output.extra["warnings"][0].startswith("RepBend diverged")
