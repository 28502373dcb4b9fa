from __future__ import annotations

import builtins

import pytest

from harc.errors import HarcError
from harc.generation import Generator, VLLMGenerator, make_generator, vllm_available
from tests.tiny import template_for, tiny_model, tiny_tokenizer


@pytest.fixture
def no_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "vllm" or name.startswith("vllm."):
            raise ImportError("No module named 'vllm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.setattr("harc.generation.vllm_backend.vllm_available", lambda: False)
    monkeypatch.setattr("harc.generation.factory.vllm_available", lambda: False)
    monkeypatch.setattr(
        "harc.generation.vllm_backend.importlib.import_module",
        lambda name: fake_import(name),
    )


def test_vllm_generator_raises_clearly_when_missing(no_vllm, tmp_path):
    tokenizer = tiny_tokenizer(template_for("qwen2"))
    with pytest.raises(HarcError, match="pip install vllm"):
        VLLMGenerator("some/model", tokenizer, cache_dir=tmp_path)
    with pytest.raises(HarcError, match="vllm"):
        make_generator("some/model", tokenizer, backend="vllm", cache_dir=tmp_path)


def test_auto_backend_picks_transformers_for_a_loaded_model(tmp_path):
    model, tokenizer = tiny_model("qwen2"), tiny_tokenizer(template_for("qwen2"))
    generator = make_generator(model, tokenizer, cache_dir=tmp_path, progress=False)
    assert isinstance(generator, Generator)


def test_transformers_backend_rejects_a_path(no_vllm, tmp_path):
    tokenizer = tiny_tokenizer(template_for("qwen2"))
    with pytest.raises(HarcError, match="loaded model"):
        make_generator("some/model", tokenizer, backend="auto", cache_dir=tmp_path)


def test_unknown_backend(tmp_path):
    model, tokenizer = tiny_model("qwen2"), tiny_tokenizer(template_for("qwen2"))
    with pytest.raises(HarcError, match="unknown generation backend"):
        make_generator(model, tokenizer, backend="onnx", cache_dir=tmp_path)  # type: ignore[arg-type]


def test_vllm_refuses_hook_contexts(tmp_path):
    tokenizer = tiny_tokenizer(template_for("qwen2"))
    with pytest.raises(HarcError, match="forward-hook"):
        make_generator("m", tokenizer, backend="vllm", context=lambda: None, cache_dir=tmp_path)


def test_vllm_is_not_installed_here():
    assert isinstance(vllm_available(), bool)
