"""The ``full`` presets: every trained method at HARC's cpu-full budget (equal compute)."""

from __future__ import annotations

import pytest

import harc.methods  # noqa: F401  (registers every method)
from harc.methods.budget import FULL, HARC_FULL_PRESET, harc_rows_per_step
from harc.methods.registry import available_methods, method_config
from harc.training.config import HarcConfig

TRAINED_BASELINES = ("sft", "dpo", "circuit_breakers", "repbend")


def test_every_method_has_a_full_preset():
    for name in available_methods():
        assert FULL in method_config(name).PRESETS, name


@pytest.mark.parametrize("name", TRAINED_BASELINES)
def test_trained_baselines_match_harc_full_budget(name):
    harc = HarcConfig.from_preset(HARC_FULL_PRESET)
    config = method_config(name, FULL)
    assert config.lora == harc.lora
    assert (config.max_steps, config.max_length, config.grad_accum) == (
        harc.max_steps, harc.max_length, harc.grad_accum)
    # RepBend diverged at HARC's lr on its training split; its preset documents its own
    assert config.lr == (1e-5 if name == "repbend" else harc.lr)
    warmup = getattr(config, "warmup", None)
    assert (config.warmup_steps if warmup is None else warmup) == harc.warmup_steps
    rows = config.batch_size * (2 if name in ("circuit_breakers", "repbend") else 1)
    assert harc_rows_per_step(harc) <= rows <= harc_rows_per_step(harc) + 1


def test_harc_full_is_the_package_preset_and_harc_dpo_uses_the_dpo_budget():
    assert method_config("harc", FULL).max_steps == HarcConfig.from_preset(
        HARC_FULL_PRESET).max_steps
    assert method_config("harc_dpo", FULL).dpo == method_config("dpo", FULL)
