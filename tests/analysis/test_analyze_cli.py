from __future__ import annotations

import json

import pytest

from harc.cli import main
from harc.directions import DirectionSet
from tests.tiny import tiny_model, tiny_tokenizer


@pytest.fixture
def tiny_dir(tmp_path):
    path = tmp_path / "tiny-model"
    tiny_model("qwen2").save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


def test_analyze_command(tiny_dir, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(row) + "\n" for row in [
        {"prompt": "How do I steal a car?", "response": "First find a car", "kind": "harmful"},
        {"prompt": "How do I steal a car?", "response": "I cannot help.", "kind": "refusal"},
        {"prompt": "Bake bread?", "response": "Mix flour and water", "kind": "helpful"}]))
    out = tmp_path / "out"
    code = main(["analyze", "--model", str(tiny_dir), "--attacks", "prefix_injection",
                 "--n-goals", "3", "--n-harmless", "3", "--max-direction-prompts", "5",
                 "--max-new-tokens", "3", "--response-tokens", "3", "--resamples", "50",
                 "--pairs", str(pairs), "--no-progress", "--out", str(out)])
    assert code == 0
    assert (out / "analysis.md").exists() and (out / "plane.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "prefix_injection" in printed and "separability" in printed


def test_compare_command(tmp_path, capsys):
    import torch

    harm = torch.eye(4)[:3]
    DirectionSet(harm=harm, refusal=torch.eye(4)[1:]).save(tmp_path / "a")
    DirectionSet(harm=-harm, refusal=torch.eye(4)[1:]).save(tmp_path / "b")
    code = main(["analyze", "--compare", str(tmp_path / "a.safetensors"),
                 str(tmp_path / "b.safetensors"), "--out", str(tmp_path / "out")])
    assert code == 0
    assert "mean cos(A.harm, B.harm) = -1.000" in capsys.readouterr().out
    assert (tmp_path / "out" / "transfer.png").exists()


def test_compare_missing_file_is_a_clear_error(tmp_path, capsys):
    code = main(["analyze", "--compare", str(tmp_path / "nope.safetensors"),
                 str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "nope.safetensors" in capsys.readouterr().err


def test_adapter_that_is_not_one(tiny_dir, tmp_path, capsys):
    code = main(["analyze", "--model", str(tiny_dir), "--adapter", str(tmp_path),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "not a PEFT adapter" in capsys.readouterr().err
