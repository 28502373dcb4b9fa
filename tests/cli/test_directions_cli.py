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


def test_every_invocation_is_recorded_in_the_run_manifest(tiny_dir, tmp_path):
    import json

    out = tmp_path / "out"
    args = ["directions", "--model", str(tiny_dir), "--out", str(out), "--bootstrap", "5",
            "--max-prompts", "10", "--seed", "3"]
    assert main(args) == 0
    assert main(args) == 0  # a rerun adds its own record
    runs = json.loads((out / "manifest.json").read_text())["runs"]
    assert len(runs) == 2
    record = runs[0]
    assert record["command"] == ["harc", *args] and record["status"] == "finished"
    assert record["settings"]["seed"] == 3 and record["settings"]["model"] == str(tiny_dir)
    assert record["model"]["dtype"] in ("float32", "bfloat16") and len(record["model"]["key"]) > 10
    assert len(record["model"]["chat_template_sha256"]) == 64
    assert record["packages"]["torch"] and record["hardware"]["cpus"]
    model = record["model"]
    assert model["bf16_matmuls_in_float32"] is (
        model["dtype"] == "bfloat16" and not model["native_bf16"])
    assert record["file_digests"] == {}  # no setting named a file


def test_a_bad_input_writes_no_manifest(tiny_dir, tmp_path):
    out = tmp_path / "o"
    assert main(["directions", "--model", str(tiny_dir), "--out", str(out), "--harmful",
                 str(tmp_path / "nope.csv")]) == 2
    assert not out.exists() and not (tmp_path / "manifest.json").exists()
