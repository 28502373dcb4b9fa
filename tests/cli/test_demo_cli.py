from __future__ import annotations

import pytest

from harc.cli import build_parser, main


def test_demo_defaults_to_the_quick_budget_in_runs_demo():
    args = build_parser().parse_args(["demo"])
    assert args.budget == "quick" and str(args.out) == "runs/demo" and args.model is None


def test_unknown_budget_is_rejected(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--budget", "huge"])
    assert "invalid choice" in capsys.readouterr().err


def test_unknown_training_config_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--config", "nope", "--out", str(tmp_path)]) == 2
    assert "'nope' is neither a preset (" in capsys.readouterr().err
