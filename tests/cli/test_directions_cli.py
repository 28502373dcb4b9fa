from __future__ import annotations

import pytest

from harc.cli import main
from tests.tiny import tiny_model, tiny_tokenizer


@pytest.fixture
def tiny_dir(tmp_path):
    path = tmp_path / "tiny-model"
    tiny_model("qwen2").save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


def test_directions_command_on_builtin_sets(tiny_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "directions",
            "--model",
            str(tiny_dir),
            "--out",
            str(out),
            "--bootstrap",
            "10",
            "--max-prompts",
            "20",
        ]
    )
    assert code == 0
    assert (out / "directions.safetensors").exists() and (out / "direction_cosine.png").exists()
    printed = capsys.readouterr().out
    assert "cos(v_harm, v_ref)" in printed and "AUROC" in printed


def test_missing_data_file_is_a_clear_error(tiny_dir, tmp_path, capsys):
    code = main(
        [
            "directions",
            "--model",
            str(tiny_dir),
            "--out",
            str(tmp_path / "o"),
            "--harmful",
            str(tmp_path / "nope.csv"),
        ]
    )
    assert code == 2
    assert "nope.csv" in capsys.readouterr().err


def test_model_without_chat_template_needs_a_raw_template(tmp_path, capsys):
    path = tmp_path / "no-template"
    tiny_model("llama").save_pretrained(path)
    tiny_tokenizer(template=None).save_pretrained(path)
    code = main(
        ["directions", "--model", str(path), "--out", str(tmp_path / "o"), "--max-prompts", "5"]
    )
    assert code == 2
    assert "no chat template" in capsys.readouterr().err
    code = main(
        [
            "directions",
            "--model",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--max-prompts",
            "5",
            "--bootstrap",
            "5",
            "--template",
            "### Instruction:\n{instruction}\n### Response:\n",
        ]
    )
    assert code == 0
