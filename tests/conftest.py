from __future__ import annotations

import pytest
import torch

from harc.models.cpu_bf16 import stop_routing_bf16_matmuls
from tests.tiny import ARCHITECTURES, template_for, tiny_model, tiny_tokenizer

torch.set_num_threads(2)


@pytest.fixture(params=ARCHITECTURES)
def arch(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def tiny_pair(arch: str):
    """(model, tokenizer) for each tiny architecture, with that family's chat-template style."""
    return tiny_model(arch), tiny_tokenizer(template_for(arch))


@pytest.fixture(autouse=True)
def _unrouted_bf16_matmuls():
    """Loading a bf16 model on a CPU without native bf16 routes its matmuls through float32
    for the rest of the process (harc.models.cpu_bf16); each test starts without it."""
    yield
    stop_routing_bf16_matmuls()


@pytest.fixture(autouse=True)
def _isolated_cache(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
):
    """Unit tests get an empty cache; integration tests share the user's cache so the embedded
    model is assembled and dequantised once, not once per test."""
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setenv("HARC_CACHE", str(tmp_path_factory.mktemp("harc-cache")))
