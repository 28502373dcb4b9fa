from __future__ import annotations

import json

import yaml
from peft import PeftModel

from harc.cli import main
from tests.tiny import tiny_model, tiny_tokenizer


def _tiny_dir(tmp_path):
    path = tmp_path / "tiny-model"
    tiny_model("qwen2", num_layers=4).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


def _tiny_config(tmp_path):
    config = {
        "preset": "cpu-demo",
        "max_steps": 2,
        "warmup_steps": 1,
        "refresh_every": 1,
        "checkpoint_every": 1,
        "exclude_first": 1,
        "exclude_last": 1,
        "top_k": 1,
        "top_k_late": 1,
        "max_length": 192,
        "response_tokens": 4,
        "batch_harmful": 1,
        "batch_harmless": 1,
        "batch_pseudo": 1,
        "lora": {"r": 2, "alpha": 4},
        "data": {
            "max_prompts": 4,
            "extraction_size": 3,
            "validation_size": 3,
            "supply_max_new_tokens": 6,
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_train_then_merge_with_self_supplied_answers(tmp_path):
    model_dir, out = _tiny_dir(tmp_path), tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                str(_tiny_config(tmp_path)),
                "--model",
                str(model_dir),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    for name in (
        "adapter/adapter_config.json",
        "directions_start.safetensors",
        "directions_end.safetensors",
        "train_log.jsonl",
        "diag_log.jsonl",
        "config.yaml",
        "training_answers.jsonl",
        "supplied_answers.jsonl",
    ):
        assert (out / name).exists(), name
    answers = [
        json.loads(line) for line in (out / "training_answers.jsonl").read_text().splitlines()
    ]
    assert {row["kind"] for row in answers} >= {"refusal", "helpful"}
    assert all(row["provenance"] for row in answers)
    PeftModel.from_pretrained(tiny_model("qwen2", num_layers=4), str(out / "adapter"))

    merged = tmp_path / "merged"
    assert (
        main(["merge", str(out / "adapter"), "--model", str(model_dir), "--out", str(merged)]) == 0
    )
    assert (merged / "config.json").exists()

    assert (
        main(
            [
                "train",
                "--config",
                str(_tiny_config(tmp_path)),
                "--model",
                str(model_dir),
                "--out",
                str(out),
                "--resume",
            ]
        )
        == 0
    )  # already finished: resumes at the end


def test_unknown_preset_is_a_clear_error(tmp_path, capsys):
    assert (
        main(["train", "--config", "nope", "--model", str(tmp_path), "--out", str(tmp_path)]) == 2
    )
    assert "'nope' is neither a preset (" in capsys.readouterr().err


def test_invalid_config_value_is_reported(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: -1\n")
    assert (
        main(["train", "--config", str(bad), "--model", str(tmp_path), "--out", str(tmp_path)]) == 2
    )
    assert "lr" in capsys.readouterr().err


def test_bad_numbers_and_bad_yaml_are_one_line_errors(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as stopped:
        main(["train", "--config", "cpu-demo", "--out", str(tmp_path), "--max-steps", "0"])
    assert stopped.value.code == 2 and "must be at least 1, not 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["directions", "--out", str(tmp_path), "--bootstrap", "0"])
    with pytest.raises(SystemExit):
        main(["evaluate", "--out", str(tmp_path), "--batch-size", "0"])
    for text, wanted in (("a: [1, 2\n", "not valid YAML"), ("- lr\n- 1\n", "not a list")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        assert main(["train", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
        assert wanted in capsys.readouterr().err


def test_an_empty_prompt_file_is_reported_before_the_model_loads(tmp_path, capsys, monkeypatch):
    import harc.cli.common as common

    def no_loading(_args):
        raise AssertionError("the model was loaded before the inputs were checked")

    for module in ("harc.cli.directions", "harc.cli.train", "harc.cli.analyze"):
        monkeypatch.setattr(f"{module}.load_from_args", no_loading)
    assert common.check_prompt_sets  # the shared check every command runs first
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["directions", "--harmful", str(empty), "--out", str(tmp_path / "d")]) == 2
    assert "empty.txt" in capsys.readouterr().err
    assert main(["analyze", "--goals", str(empty), "--out", str(tmp_path / "a")]) == 2
    assert "empty.txt" in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text(f"preset: cpu-demo\ndata: {{harmful: {empty}}}\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "t")]) == 2
    assert "empty.txt" in capsys.readouterr().err
