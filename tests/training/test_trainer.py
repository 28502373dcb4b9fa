from __future__ import annotations

import json
import shutil

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file

from harc.directions import DirectionSet
from harc.errors import HarcError
from harc.models.loading import LoadedModel
from harc.training.config import HarcConfig
from harc.training.data import ExtractionSet, HarmfulExample, RetainExample, TrainingData
from harc.training.harc import HarcTrainer
from harc.training.loop import TrainingDivergedError
from tests.tiny import tiny_model, tiny_tokenizer

HARMFUL = ["build a bomb", "steal a car", "write malware", "make a fake id"]
HARMLESS = ["bake a cake", "write a poem", "say hello", "explain the sky"]


def _data() -> TrainingData:
    harmful = [
        HarmfulExample(
            p,
            "I'm sorry, I can't help with that.",
            f"Sure, to {p} you first",
            {"refusal": "test", "harmful_answer": "test"},
        )
        for p in HARMFUL
    ]
    retain = [
        RetainExample(p, f"Of course! Here is how to {p}.", "harmless", "test") for p in HARMLESS
    ]
    pseudo = [
        RetainExample("kill a python process", "Use kill with the PID.", "pseudo_harmful", "test")
    ]
    extraction = ExtractionSet(
        HARMFUL,
        HARMLESS,
        [(e.prompt, e.harmful_answer) for e in harmful],
        [(e.prompt, e.refusal) for e in harmful],
        [(r.prompt, r.answer) for r in retain],
    )
    return TrainingData(harmful, retain, pseudo, extraction, HARMFUL[:2], HARMLESS[:2])


def _config(**overrides) -> HarcConfig:
    values = dict(
        seed=0,
        lr=5e-3,
        warmup_steps=2,
        max_steps=6,
        grad_accum=2,
        batch_harmful=2,
        batch_harmless=1,
        batch_pseudo=1,
        response_tokens=4,
        max_length=96,
        top_k=1,
        top_k_late=2,
        top_k_ramp_step=4,
        exclude_first=1,
        exclude_last=1,
        refresh_every=3,
        checkpoint_every=2,
        lora={"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj", "up_proj", "not_here"]},
    )
    values.update(overrides)
    return HarcConfig.model_validate(values)


def _loaded(num_layers: int = 4) -> LoadedModel:
    return LoadedModel(
        tiny_model("qwen2", num_layers=num_layers),
        tiny_tokenizer(),
        "tiny",
        "memory",
        torch.float32,
        torch.device("cpu"),
    )


def _adapter_weights(out) -> dict[str, torch.Tensor]:
    return load_file(str(out / "adapter" / "adapter_model.safetensors"))


def test_training_writes_every_artifact_and_the_adapter_loads(tmp_path):
    out = tmp_path / "run"
    result = HarcTrainer(_loaded(), _config(), _data(), out, progress=False).run()
    for name in (
        "config.yaml",
        "train_log.jsonl",
        "diag_log.jsonl",
        "directions_start.safetensors",
        "directions_end.safetensors",
        "train_summary.json",
        "adapter/adapter_config.json",
    ):
        assert (out / name).exists(), name
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2, 3, 4, 5, 6]
    assert log[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # adapter starts as the identity
    assert len(log[-1]["slots"]) == 2 and len(log[0]["slots"]) == 1  # K ramp at step 4
    diag = [json.loads(line) for line in (out / "diag_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in diag] == [0, 3, 6]
    assert {"harmful_c_ref", "harmless_c_harm"} <= diag[0]["heldout"].keys()
    assert diag[1]["drift"]["harm"][0] <= 1.0 and "bootstrap_cos" in diag[1]
    assert HarcConfig.from_yaml(out / "config.yaml") == _config()
    assert DirectionSet.load(out / "directions_end.safetensors").has_response
    reloaded = PeftModel.from_pretrained(tiny_model("qwen2", num_layers=4), str(result.adapter_dir))
    assert any("lora_A" in name for name, _ in reloaded.named_parameters())
    assert result.steps == 6


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    full = tmp_path / "full"
    HarcTrainer(_loaded(), _config(), _data(), full, progress=False).run()
    interrupted = tmp_path / "interrupted"
    HarcTrainer(_loaded(), _config(max_steps=4), _data(), interrupted, progress=False).run()
    (interrupted / "adapter").rename(tmp_path / "adapter-at-4")  # the resumed run must rewrite it
    HarcTrainer(_loaded(), _config(), _data(), interrupted, progress=False).run(resume=True)
    expected, resumed = _adapter_weights(full), _adapter_weights(interrupted)
    assert expected.keys() == resumed.keys()
    for name in expected:
        assert torch.equal(expected[name], resumed[name]), name
    full_log = (full / "train_log.jsonl").read_text()
    assert (interrupted / "train_log.jsonl").read_text() == full_log


def test_a_resumed_runs_time_continues_from_its_checkpoint(tmp_path):
    """train_summary's seconds: the training time up to the checkpoint plus the time after it;
    a checkpoint that did not record its time leaves the count starting there, and says so."""
    first = tmp_path / "first"
    HarcTrainer(_loaded(), _config(max_steps=4), _data(), first, progress=False).run()
    state_file = first / "checkpoints" / "step-000004" / "state.json"
    assert json.loads(state_file.read_text())["seconds"] > 0
    for name, recorded in (("timed", 1000.0), ("untimed", None)):
        run = tmp_path / name
        shutil.copytree(first, run)
        state = json.loads((run / state_file.relative_to(first)).read_text())
        state["seconds"] = recorded
        (run / state_file.relative_to(first)).write_text(json.dumps(state))
        HarcTrainer(_loaded(), _config(), _data(), run, progress=False).run(resume=True)
        summary = json.loads((run / "train_summary.json").read_text())
        if recorded is None:
            assert summary["seconds_from_step"] == 4 and 0 < summary["seconds"] < 1000
        else:
            assert summary["seconds_from_step"] == 0 and summary["seconds"] > 1000


def test_resume_refuses_checkpoints_of_other_settings_and_a_fresh_run_drops_them(tmp_path):
    run = tmp_path / "run"
    HarcTrainer(_loaded(), _config(max_steps=4), _data(), run, progress=False).run()
    with pytest.raises(HarcError, match="other settings \\(lr\\)"):
        HarcTrainer(_loaded(), _config(lr=1e-3), _data(), run, progress=False).run(resume=True)
    HarcTrainer(_loaded(), _config(lr=1e-3, max_steps=1, checkpoint_every=0), _data(), run,
                progress=False).run()
    assert not (run / "checkpoints").exists()  # not left for a later --resume to mix in


def test_nan_loss_stops_with_clear_error_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    import harc.training.harc as trainer_module

    real = trainer_module.compute_losses
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        terms = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] > 6:  # micro-batches 7+ = optimizer step 4 with grad_accum 2
            terms["ce"] = terms["ce"] * float("nan")
        return terms

    monkeypatch.setattr(trainer_module, "compute_losses", poisoned)
    out = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match="step 4") as error:
        HarcTrainer(_loaded(), _config(), _data(), out, progress=False).run()
    assert "step-000002" in str(error.value)
    assert (out / "checkpoints" / "step-000002" / "adapter" / "adapter_model.safetensors").exists()
    assert not (out / "adapter").exists()


def test_no_matching_lora_targets_is_a_clear_error(tmp_path):
    config = _config(lora={"r": 4, "alpha": 8, "target_modules": ["c_attn"]})
    with pytest.raises(Exception, match="linear layers are"):
        HarcTrainer(_loaded(), config, _data(), tmp_path / "run", progress=False).run()


def test_resume_drops_a_partial_last_log_line_and_refuses_a_damaged_log(tmp_path, caplog):
    import json

    import pytest

    from harc.training.checkpoint import truncate_log

    log = tmp_path / "train_log.jsonl"
    log.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)) + '{"step": 4, "lo')
    with caplog.at_level("WARNING"):
        truncate_log(log, 2)
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2]
    assert "partial last line" in caplog.text
    log.write_text('{"step": 1}\n{"ste\n{"step": 2}\n')
    with pytest.raises(HarcError, match="line 2 is not JSON"):
        truncate_log(log, 2)


def test_an_over_long_training_prompt_is_an_error_before_training(tmp_path):
    import dataclasses

    import pytest

    from harc.training.harc import HarcTrainer
    from tests.methods.helpers import tiny_data, tiny_loaded

    data = tiny_data()
    long = dataclasses.replace(data.harmless[0], prompt="tell me about the sea " * 60)
    data.harmless.append(long)
    config = HarcConfig(max_length=64, batch_harmful=1, batch_harmless=1, batch_pseudo=1,
                        lora={"r": 2, "alpha": 4}, exclude_first=1, exclude_last=1, top_k=1,
                        top_k_late=1, response_tokens=4)
    with pytest.raises(HarcError, match=r"1 of \d+ training prompts leave no room"):
        HarcTrainer(tiny_loaded(num_layers=4), config, data, tmp_path)
