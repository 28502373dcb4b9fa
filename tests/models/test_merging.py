from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora.layer import Linear as LoraLinear

from harc.cli import main
from harc.errors import HarcError
from harc.models.merging import (
    adapter_reference,
    check_merged,
    merge_check_inputs,
    merge_checked,
    merged_copy,
)
from tests.tiny import template_for, tiny_model, tiny_tokenizer

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def test_merged_copy_matches_the_adapter_and_leaves_it_untouched() -> None:
    model = tiny_model("qwen2", num_layers=2)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj",
                                                                                       "up_proj"]))
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:  # B starts at zero: give the adapter an effect to fold
            torch.nn.init.normal_(parameter, std=0.05)
    peft_model.eval()
    ids = torch.randint(0, 300, (2, 7))
    with torch.no_grad():
        expected = peft_model(input_ids=ids).logits
        with peft_model.disable_adapter():
            base = peft_model(input_ids=ids).logits
        merged = merged_copy(peft_model)
        torch.testing.assert_close(merged(input_ids=ids).logits, expected, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(base, expected, atol=1e-3)
        with peft_model.disable_adapter():  # the original adapter and base are unchanged
            torch.testing.assert_close(peft_model(input_ids=ids).logits, base)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert not merged.training


def test_merged_copy_of_a_bf16_model_rounds_once() -> None:
    """The fold happens in float32: each merged weight is the bf16 rounding of W + delta."""
    model = tiny_model("qwen2", num_layers=2).to(torch.bfloat16)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]))
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.01)
    layer = peft_model.base_model.model.model.layers[0].self_attn.q_proj
    expected = (layer.base_layer.weight.float() + layer.get_delta_weight("default").float())
    merged = merged_copy(peft_model)
    weight = merged.model.layers[0].self_attn.q_proj.weight
    assert weight.dtype is torch.bfloat16
    assert torch.equal(weight, expected.to(torch.bfloat16))
    assert next(peft_model.parameters()).dtype is torch.bfloat16  # the original is untouched


def _adapter_model(arch: str, dtype: torch.dtype = torch.float32) -> PeftModel:
    """A tiny model with a LoRA adapter whose effect on the logits is large (B is not zero)."""
    model = tiny_model(arch, num_layers=2).to(dtype)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS))
    torch.manual_seed(1)
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.1)
    return peft_model.eval()


def _inputs(arch: str) -> list[list[int]]:
    loaded = SimpleNamespace(tokenizer=tiny_tokenizer(template_for(arch)), template=None)
    return merge_check_inputs(loaded)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_a_correct_merge_passes_the_check(arch: str, dtype: torch.dtype) -> None:
    peft_model = _adapter_model(arch, dtype)
    merged, check = merge_checked(peft_model, _inputs(arch))
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert check.prompts == 4 and check.dtype is dtype
    # measured: fp32 <= 1.1e-6, bf16 <= 0.014 on these models (see MERGE_RTOL)
    assert check.max_difference < (1e-5 if dtype is torch.float32 else 0.05)
    assert check.max_difference <= check.tolerance
    assert "agree to" in str(check)


def test_a_perturbed_merged_weight_fails_the_check() -> None:
    peft_model = _adapter_model("qwen2")
    reference = adapter_reference(peft_model, _inputs("qwen2"))
    merged = peft_model.merge_and_unload()
    with torch.no_grad():
        merged.model.layers[1].mlp.down_proj.weight[0, 0] += 10.0
    with pytest.raises(HarcError, match="merge check failed") as caught:
        check_merged(merged, reference)
    assert "\n" not in str(caught.value)


def test_plain_text_inputs_without_a_chat_template() -> None:
    loaded = SimpleNamespace(tokenizer=tiny_tokenizer(template=None), template=None)
    inputs = merge_check_inputs(loaded, ["Hello", "Write a poem"])
    assert len(inputs) == 2 and all(inputs)


def _saved_adapter(tmp_path: Path) -> tuple[Path, Path]:
    model_dir, adapter_dir = tmp_path / "model", tmp_path / "adapter"
    tiny_model("llama", num_layers=2).save_pretrained(model_dir)
    tiny_tokenizer(template_for("llama")).save_pretrained(model_dir)
    peft_model = get_peft_model(
        tiny_model("llama", num_layers=2), LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS)
    )
    torch.manual_seed(1)
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.1)
    peft_model.save_pretrained(adapter_dir)
    return model_dir, adapter_dir


def _merge(model_dir: Path, adapter_dir: Path, out: Path) -> int:
    argv = ["merge", str(adapter_dir), "--model", str(model_dir), "--out", str(out)]
    return main([*argv, "--dtype", "float32", "--device", "cpu"])


def test_cli_merge_reports_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir, adapter_dir = _saved_adapter(tmp_path)
    assert _merge(model_dir, adapter_dir, tmp_path / "merged") == 0
    printed = capsys.readouterr().out
    assert "merge check: merged and adapter logits agree to" in printed
    assert "for float32" in printed
    assert (tmp_path / "merged" / "config.json").is_file()


def test_cli_merge_without_lora_scaling_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir, adapter_dir = _saved_adapter(tmp_path)
    original = LoraLinear.get_delta_weight

    def unscaled(self: Any, adapter: str) -> torch.Tensor:  # a merge that forgets alpha / r
        return original(self, adapter) / self.scaling[adapter]

    monkeypatch.setattr(LoraLinear, "get_delta_weight", unscaled)
    out = tmp_path / "merged"
    capsys.readouterr()
    assert _merge(model_dir, adapter_dir, out) == 2
    error = capsys.readouterr().err.splitlines()[-1]  # after the loading progress bar
    assert error.startswith("harc: error: merge check failed: the merged model's logits differ")
    assert error.endswith(f"; nothing was written to {out}")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["adapter", "model"]
