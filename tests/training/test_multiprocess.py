"""Two real processes on CPU (gloo, ``torchrun --nproc_per_node 2``): ``harc train`` and one
trained baseline. One adapter, one log with each step once (terms averaged over ranks), no
staging directories left, a clean resume, and the two-process update equal to the
single-process update over the union of both ranks' rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from harc.training import HarcConfig
from harc.training.harc import HarcTrainer
from harc.training.run import train_harc
from tests.tiny import tiny_model, tiny_tokenizer

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5  # float32 on CPU; the sums run in another order, nothing else differs


def _tiny_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-model"
    tiny_model("qwen2", num_layers=4).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


def _config(tmp_path: Path, **changes: object) -> Path:
    config = {
        "preset": "cpu-demo", "max_steps": 3, "warmup_steps": 1, "lr": 1e-2,
        "refresh_every": 2, "checkpoint_every": 2, "exclude_first": 1, "exclude_last": 1,
        "top_k": 1, "top_k_late": 1, "max_length": 160, "response_tokens": 4,
        "batch_harmful": 1, "batch_harmless": 1, "batch_pseudo": 1, "grad_accum": 1,
        "lora": {"r": 2, "alpha": 4},
        "data": {"max_prompts": 6, "extraction_size": 3, "validation_size": 3,
                 "supply_max_new_tokens": 6},
        **changes,
    }
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _torchrun(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
           "HARC_CACHE": os.environ["HARC_CACHE"]}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", *args]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _harc_train(model_dir: Path, config: Path, out: Path, *extra: str) -> list[str]:
    return ["-m", "harc", "train", "--model", str(model_dir), "--config", str(config),
            "--out", str(out), "--device", "cpu", "--dtype", "float32", *extra]


def _log_steps(out: Path) -> list[int]:
    lines = (out / "train_log.jsonl").read_text().splitlines()
    return [json.loads(line)["step"] for line in lines]


def _adapter(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "adapter" / "adapter_model.safetensors"))


def test_harc_train_on_two_processes_writes_once_and_resumes(tmp_path):
    model_dir, out = _tiny_dir(tmp_path), tmp_path / "run"
    _torchrun(_harc_train(model_dir, _config(tmp_path), out), tmp_path)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["processes"] == 2
    assert _log_steps(out) == [1, 2, 3]
    assert not list((out / "checkpoints").glob(".*"))  # no staging directory left
    checkpoint = out / "checkpoints" / "step-000002"
    assert {p.name for p in checkpoint.glob("rng-rank*.pt")} == {"rng-rank0.pt", "rng-rank1.pt"}
    assert json.loads((checkpoint / "state.json").read_text())["processes"] == 2
    supplied = (out / "supplied_answers.jsonl").read_text().splitlines()
    assert len(supplied) == len({json.loads(line)["key"] for line in supplied})  # once each
    finished = _adapter(out)

    # Resume from step 2 on the same world size: step 3 again, bit for bit, logged once.
    (out / "adapter").rename(out / "adapter-first")
    _torchrun(_harc_train(model_dir, _config(tmp_path), out, "--resume"), tmp_path)
    assert _log_steps(out) == [1, 2, 3]
    resumed = _adapter(out)
    assert resumed.keys() == finished.keys()
    for name, value in finished.items():
        assert torch.equal(resumed[name], value), name


def test_two_process_update_equals_one_process_update_over_both_ranks_rows(
        tmp_path, monkeypatch):
    model_dir = _tiny_dir(tmp_path)
    changes = {"max_steps": 2, "refresh_every": 0, "checkpoint_every": 0}
    two = tmp_path / "two"
    _torchrun(_harc_train(model_dir, _config(tmp_path, **changes), two), tmp_path)

    # One process, two micro-batches: micro-batch m draws the rows rank m drew.
    original = HarcTrainer._sample
    monkeypatch.setattr(HarcTrainer, "_sample",
                        lambda self, step, micro, process: original(self, step, 0, micro))
    from harc.models import load_model

    loaded = load_model(model_dir, dtype="float32", device="cpu")
    config = HarcConfig.load(str(_config(tmp_path, **changes, grad_accum=2)))
    one = tmp_path / "one"
    train_harc(loaded, config, one, progress=False)
    left, right = _adapter(two), _adapter(one)
    assert left.keys() == right.keys()
    moved = 0.0
    for name, value in left.items():
        torch.testing.assert_close(value, right[name], atol=TOLERANCE, rtol=0)
        moved = max(moved, float(value.abs().max()))
    assert moved > 10 * TOLERANCE  # the adapters really trained
    two_log = [json.loads(line) for line in (two / "train_log.jsonl").read_text().splitlines()]
    one_log = [json.loads(line) for line in (one / "train_log.jsonl").read_text().splitlines()]
    for a, b in zip(two_log, one_log, strict=True):
        assert a["total"] == pytest.approx(b["total"], rel=1e-5)  # the mean over both ranks


WORKER = ROOT / "tests" / "training" / "multiprocess_worker.py"


def test_a_trained_baseline_on_two_processes_keeps_the_ranks_identical(tmp_path):
    model_dir, out = _tiny_dir(tmp_path), tmp_path / "cb"
    _torchrun([str(WORKER), str(model_dir), str(out)], tmp_path)
    ranks = [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [rank["world_size"] for rank in ranks] == [2, 2]
    assert ranks[0]["lora_digest"] == ranks[1]["lora_digest"]  # gradients were averaged
    assert [json.loads(line)["step"] for line in
            (out / "train_log.jsonl").read_text().splitlines()] == [1, 2]
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def test_a_non_finite_loss_on_one_rank_stops_every_rank(tmp_path):
    model_dir, out = _tiny_dir(tmp_path), tmp_path / "cb"
    _torchrun([str(WORKER), str(model_dir), str(out), "nan"], tmp_path)  # no hang, exit 0
    ranks = [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [rank.get("error") for rank in ranks] == ["circuit breakers"] * 2
    assert [json.loads(line)["step"] for line in
            (out / "train_log.jsonl").read_text().splitlines()] == [1]
