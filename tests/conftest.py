from __future__ import annotations

import pytest
import torch

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
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HARC_CACHE", str(tmp_path_factory.mktemp("harc-cache")))
