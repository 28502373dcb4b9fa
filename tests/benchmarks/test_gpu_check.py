"""``benchmarks/gpu_check.sh --dry-run``: every step on the tiny CPU models, one JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check_report  # noqa: E402

STEPS = ["pytest", "roofline", "train_step", "extraction", "generation"]


def test_dry_run_writes_one_json_with_every_section(tmp_path: Path) -> None:
    out = tmp_path / "check" / "gpu_check.json"
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(out.read_text())
    assert list(report) == ["check", *gpu_check_report.SECTIONS, "summary"]
    check = report["check"]
    assert check["ok"] and check["dry_run"] and check["device"] == "cpu"
    assert list(check["steps"]) == STEPS and all(s["ok"] for s in check["steps"].values())
    assert report["pytest"]["passed"] == 5 and report["pytest"]["failed"] == 0
    assert report["roofline"]["matmul"]["bfloat16"]["square_flops"] > 0
    assert set(report["train_step"]["variants"]) == {"sft", "harc", "harc_two_copy"}
    assert report["train_step"]["dtype"] == "bfloat16"
    assert report["extraction"]["dtype"] == "bfloat16"
    assert report["generation"]["rows"][0]["dtype"] == "bfloat16"
    summary = report["summary"]
    for key in ("harc_step_over_sft", "harc_memory_over_sft", "harc_mfu",
                "extraction_over_plain_forward"):
        assert summary[key] > 0, key
    assert summary["generation"]["token_slots_per_s"] > 0


def test_report_says_which_step_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "steps.tsv").write_text("pytest\t0\t1.0\ntrain_step\t124\t210.0\n")
    (tmp_path / "train_step.log").write_text("torch.OutOfMemoryError: CUDA out of memory\n")
    (tmp_path / "extraction.json").write_text(json.dumps({"ratio_extraction_over_plain": 0.95}))
    out = tmp_path / "gpu_check.json"
    assert gpu_check_report.main(["--work", str(tmp_path), "--out", str(out)]) == 1
    report = json.loads(out.read_text())
    assert not report["check"]["ok"]
    assert report["check"]["steps"]["train_step"]["rc"] == 124
    assert "out of memory" in report["check"]["steps"]["train_step"]["log_tail"]
    assert report["train_step"] is None and report["pytest"] is None
    assert report["summary"]["extraction_over_plain_forward"] == 0.95
    assert "ok: False" in capsys.readouterr().out
