"""``--device``: ``auto`` by default on every command that loads a model, one-line errors, and
decisions taken on the resolved device rather than on the flag's text."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from harc.cli import build_parser, main
from harc.models import devices
from tests.tiny import tiny_model, tiny_tokenizer

COMMANDS = [
    ["merge", "adapter", "--out", "x"],
    ["directions", "--out", "x"],
    ["train", "--config", "c", "--out", "x"],
    ["evaluate", "--out", "x"],
    ["compare", "--out", "x"],
    ["analyze", "--out", "x"],
    ["demo"],
    ["judge-train", "--labels", "l", "--out", "x"],
    ["judge-eval", "--judge", "probe", "--labels", "gold", "--out", "x"],
]


@pytest.fixture
def no_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[0])
def test_device_defaults_to_auto(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).device == "auto"


@pytest.mark.usefixtures("no_accelerator")
def test_cuda_without_cuda_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = tmp_path / "tiny"
    tiny_model("llama", num_layers=1).save_pretrained(model_dir)
    tiny_tokenizer().save_pretrained(model_dir)
    capsys.readouterr()
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    argv = ["merge", str(adapter), "--out", str(tmp_path / "out"), "--model", str(model_dir)]
    assert main([*argv, "--device", "cuda"]) == 2
    assert capsys.readouterr().err == (
        "harc: error: --device cuda: CUDA is not available on this machine\n"
    )
    assert main([*argv, "--device", "gpu0"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("harc: error: --device gpu0: not a device") and error.count("\n") == 1


class _Stop(Exception):
    pass


def _compare_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The data config and preset ``harc compare`` picks with the default ``--device``."""
    import harc.cli.compare as cli_compare
    import harc.methods.compare as methods_compare

    seen: dict[str, Any] = {}

    def fake_compare(*_args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise _Stop

    loaded = SimpleNamespace(tokenizer=tiny_tokenizer(), name="tiny")
    monkeypatch.setattr(methods_compare, "compare", fake_compare)
    monkeypatch.setattr(cli_compare, "load_from_args", lambda _args: loaded)
    args = build_parser().parse_args(["compare", "--methods", "base", "--out", str(tmp_path)])
    assert isinstance(args, argparse.Namespace) and args.device == "auto"
    with pytest.raises(_Stop):
        args.run(args)
    return {"data_config": seen["data_config"], "preset": seen["preset"]}


@pytest.mark.usefixtures("no_accelerator")
def test_compare_takes_cpu_defaults_from_the_resolved_device(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert _compare_defaults(monkeypatch, tmp_path) == {"data_config": "cpu-demo", "preset": "cpu"}


def test_compare_takes_gpu_defaults_on_a_gpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert _compare_defaults(monkeypatch, tmp_path) == {
        "data_config": "paper-llama3.1-8b", "preset": None,
    }
