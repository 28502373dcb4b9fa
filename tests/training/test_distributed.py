"""The single-process side of harc.training.distributed (the two-process side runs in
test_multiprocess.py)."""

from __future__ import annotations

import pytest
import torch

from harc.errors import HarcError
from harc.models.loading import LoadedModel
from harc.training.distributed import training_accelerator
from tests.tiny import tiny_model, tiny_tokenizer


def _loaded() -> LoadedModel:
    return LoadedModel(tiny_model("qwen2"), tiny_tokenizer(), "tiny", "memory", torch.float32,
                       torch.device("cpu"))


@pytest.mark.parametrize("variable", ["ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"])
def test_a_sharding_launch_is_refused_not_run_unsharded(monkeypatch, variable):
    monkeypatch.setenv(variable, "true")
    with pytest.raises(HarcError, match=r"shards the model.*data-parallel"):
        training_accelerator(_loaded(), "no")


def test_a_plain_launch_gets_an_accelerator(monkeypatch):
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "false")
    accelerator = training_accelerator(_loaded(), "no")
    assert accelerator.num_processes == 1 and accelerator.device.type == "cpu"
