from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from harc.models import load_model
from harc.models.gguf import (
    detach_quantizer,
    gguf_cache_dir,
    gguf_cache_key,
    load_gguf,
    read_gguf_info,
)
from tests.models.tiny_gguf import write_tiny_qwen2_gguf
from tests.tiny import tiny_model


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    return write_tiny_qwen2_gguf(tmp_path / "tiny.gguf")


def test_read_gguf_info(tiny_gguf: Path) -> None:
    info = read_gguf_info(tiny_gguf)
    assert info.architecture == "qwen2"
    assert info.name == "Tiny Qwen2"
    assert (info.block_count, info.hidden_size, info.head_count) == (2, 32, 4)
    assert info.tokenizer_model == "gpt2"
    assert info.has_chat_template


def test_detach_on_manually_marked_model() -> None:
    model = tiny_model("llama", num_layers=2)
    model.hf_quantizer = object()
    model.is_quantized = True
    model.quantization_method = "gguf"
    model.config.quantization_config = {"quant_method": "gguf"}
    model.config._is_quantized = True
    removed = detach_quantizer(model)
    assert set(removed) == {
        "hf_quantizer",
        "is_quantized",
        "quantization_method",
        "config.quantization_config",
        "config._is_quantized",
    }
    assert getattr(model, "hf_quantizer", None) is None
    assert not getattr(model, "is_quantized", False)
    assert not hasattr(model.config, "quantization_config")
    assert detach_quantizer(model) == []  # idempotent


def test_raw_gguf_load_needs_detach_then_saves_and_trains(tiny_gguf: Path, tmp_path: Path) -> None:
    """transformers' own GGUF load leaves the quantizer on; after detaching, save + LoRA work."""
    from peft import LoraConfig, get_peft_model

    model = AutoModelForCausalLM.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name)
    if getattr(model, "hf_quantizer", None) is not None:
        with pytest.raises(ValueError, match="not serializable"):
            model.save_pretrained(tmp_path / "raw")
    detach_quantizer(model)
    model.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "model.safetensors").is_file()
    assert "quantization_config" not in (tmp_path / "saved" / "config.json").read_text()

    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    peft_model.train()
    ids = torch.randint(0, 300, (2, 8))
    loss = peft_model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = [p.grad for n, p in peft_model.named_parameters() if "lora_" in n]
    assert grads and all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    peft_model.save_pretrained(tmp_path / "adapter")
    assert any((tmp_path / "adapter").glob("adapter_model.*"))


def test_load_gguf_matches_source_weights_and_caches(tiny_gguf: Path) -> None:
    model, tokenizer, info = load_gguf(tiny_gguf)
    assert info.architecture == "qwen2"
    assert getattr(model, "hf_quantizer", None) is None
    assert not getattr(model, "is_quantized", False)
    reference = tiny_model("qwen2", num_layers=2)
    ids = torch.randint(0, 300, (1, 6))
    with torch.no_grad():
        diff = (model(ids).logits - reference(ids).logits).abs().max()
    assert diff < 0.05  # Q8_0 rounding only

    cache_dir = gguf_cache_dir(tiny_gguf, torch.float32)
    assert (cache_dir / "model.safetensors").is_file()
    assert (cache_dir / "tokenizer.json").is_file()
    assert not list(cache_dir.parent.glob(".*"))  # no temp dir left behind

    again, tok2, _ = load_gguf(tiny_gguf)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert tok2.chat_template == tokenizer.chat_template


def test_cache_key_depends_on_dtype_and_mtime(tiny_gguf: Path) -> None:
    key = gguf_cache_key(tiny_gguf, torch.float32)
    assert key != gguf_cache_key(tiny_gguf, torch.bfloat16)
    stat = tiny_gguf.stat()
    os.utime(tiny_gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert key != gguf_cache_key(tiny_gguf, torch.float32)


def test_load_model_on_gguf_paths(tiny_gguf: Path, tmp_path: Path) -> None:
    loaded = load_model(tiny_gguf, cache=False)
    assert loaded.name == "Tiny Qwen2"
    assert loaded.source == str(tiny_gguf.resolve())
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.pad_token == "<pad>"
    assert not loaded.model.training
    assert not any(gguf_cache_dir(tiny_gguf, torch.float32).parent.iterdir())

    by_dir = load_model(tmp_path, cache=False)  # the only .gguf in the directory
    assert by_dir.source == loaded.source
    by_name = load_model(tmp_path, gguf_file="tiny.gguf", dtype="bfloat16", cache=False)
    assert by_name.dtype == torch.bfloat16
    assert next(by_name.model.parameters()).dtype == torch.bfloat16


def test_gguf_without_chat_template_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_tiny_qwen2_gguf(tmp_path / "base.gguf", name="Tiny Base", chat_template=None)
    assert not read_gguf_info(path).has_chat_template
    with caplog.at_level("WARNING", logger="harc.models.loading"):
        loaded = load_model(path, cache=False)
    assert not loaded.tokenizer.chat_template
    assert "no chat template" in caplog.text and "Tiny Base" in caplog.text


def test_stale_temp_dirs_are_cleaned(tiny_gguf: Path) -> None:
    target = gguf_cache_dir(tiny_gguf, torch.float32)
    stale = target.parent / f".{target.name}.crashed"
    stale.mkdir(parents=True)
    old = stale.stat().st_mtime - 7200
    os.utime(stale, (old, old))
    fresh = target.parent / f".{target.name}.inflight"
    fresh.mkdir()
    load_gguf(tiny_gguf)
    assert not stale.exists()
    assert fresh.exists()  # may belong to a concurrent writer
