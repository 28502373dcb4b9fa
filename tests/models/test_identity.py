from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model

from harc.errors import HarcError
from harc.models.identity import adapter_digest, model_key, with_adapter
from harc.models.loading import LoadedModel
from tests.tiny import tiny_model, tiny_tokenizer


def _loaded() -> LoadedModel:
    return LoadedModel(tiny_model("llama"), tiny_tokenizer(), "tiny", "memory", torch.float32,
                       torch.device("cpu"))


def _save_adapter(path, seed: int) -> None:
    model = tiny_model("llama")
    torch.manual_seed(seed)  # after tiny_model, which seeds its own weights
    config = LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(path)


def test_model_key_names_weights_and_adapter():
    loaded = _loaded()
    assert model_key(loaded) == "tiny|memory|float32|base"
    assert model_key(loaded, "ab" * 32) == "tiny|memory|float32|adapter=" + "ab" * 8


def test_adapter_digest_follows_the_weights(tmp_path):
    _save_adapter(tmp_path / "a", seed=0)
    _save_adapter(tmp_path / "b", seed=0)
    _save_adapter(tmp_path / "c", seed=1)
    assert adapter_digest(tmp_path / "a") == adapter_digest(tmp_path / "b")
    assert adapter_digest(tmp_path / "a") != adapter_digest(tmp_path / "c")
    with pytest.raises(HarcError, match="not a PEFT adapter"):
        adapter_digest(tmp_path)
    (tmp_path / "a" / "adapter_config.json").unlink()
    with pytest.raises(HarcError, match=r"need adapter_config\.json"):
        adapter_digest(tmp_path / "a")


def test_with_adapter_wraps_in_eval_mode_or_passes_through(tmp_path):
    loaded = _loaded()
    assert with_adapter(loaded, None) == (loaded.model, None)
    _save_adapter(tmp_path / "a", seed=0)
    model, sha = with_adapter(loaded, tmp_path / "a")
    assert sha == adapter_digest(tmp_path / "a")
    assert not model.training
    assert any("lora_A" in name for name, _ in model.named_parameters())


def test_an_adapter_of_another_base_is_an_error_or_a_warning(tmp_path, caplog):
    from transformers import AutoModelForCausalLM

    _save_adapter(tmp_path / "a", seed=0)
    config = tiny_model("llama").config
    config.hidden_size, config.head_dim = 64, 16  # another shape: the LoRA cannot fit
    wide = LoadedModel(AutoModelForCausalLM.from_config(config), tiny_tokenizer(), "wide",
                       "memory", torch.float32, torch.device("cpu"))
    with pytest.raises(HarcError, match=r"does not fit wide: it was trained on a model of "
                                        r"another shape \(size mismatch"):
        with_adapter(wide, tmp_path / "a")
    loaded = _loaded()
    with caplog.at_level("WARNING"):
        with_adapter(loaded, tmp_path / "a")  # both unnamed: nothing to compare, no warning
    assert "same base model" not in caplog.text
    import json

    adapter_config = tmp_path / "a" / "adapter_config.json"
    recorded = json.loads(adapter_config.read_text())
    adapter_config.write_text(json.dumps({**recorded, "base_model_name_or_path": "tiny/llama"}))
    loaded = _loaded()
    loaded.model.config._name_or_path = "some/other-model"
    with caplog.at_level("WARNING"):
        with_adapter(loaded, tmp_path / "a")
    assert "check that it is the same base model" in caplog.text


def test_rewriting_a_model_directory_changes_its_key(tmp_path):
    """A second merge into one directory must not reuse the first merge's cached answers."""
    from harc.models.loading import load_model

    tiny_model("llama").save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    first = model_key(load_model(tmp_path))
    assert model_key(load_model(tmp_path)) == first  # nothing changed: the same key
    tiny_model("llama", seed=1).save_pretrained(tmp_path)
    second = model_key(load_model(tmp_path))
    assert second != first and second.split("@")[0] == first.split("@")[0]
