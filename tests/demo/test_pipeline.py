from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harc.demo import STAGES, DemoBudget, run_demo
from harc.demo import pipeline as pipeline_module
from harc.training.config import HarcConfig
from tests.methods.helpers import tiny_loaded

BUDGET = DemoBudget(name="tiny", direction_prompts=6, bootstrap_resamples=20, goals=3,
                    harmless=3, attacks=("refusal_suppression", "prefix_injection"),
                    new_tokens=3, capability_limit=4, batch_size=4)


def tiny_config(**overrides) -> HarcConfig:
    values = dict(
        seed=0, lr=5e-3, warmup_steps=1, max_steps=2, batch_harmful=1, batch_harmless=1,
        batch_pseudo=1, response_tokens=3, max_length=192, top_k=1, top_k_late=1,
        exclude_first=0, exclude_last=0, refresh_every=100, checkpoint_every=1,
        lora={"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        data={"max_prompts": 4, "extraction_size": 3, "validation_size": 2,
              "supply_max_new_tokens": 3},
    )
    values.update(overrides)
    return HarcConfig.model_validate(values)


def demo(out: Path, loaded=None, **kwargs):
    return run_demo(loaded or tiny_loaded(), BUDGET, out, train_config=tiny_config(),
                    progress=False, **kwargs)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, object, object]:
    out = tmp_path_factory.mktemp("demo")
    loaded = tiny_loaded()
    return out, demo(out, loaded), loaded


def test_training_leaves_the_base_model_untouched(finished):
    """The base-model evaluation runs after training on the same object: it must be the
    original weights, with no LoRA layers left in it."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    _, _, loaded = finished
    assert not any(isinstance(m, BaseTunerLayer) for m in loaded.model.modules())
    assert not hasattr(loaded.model, "peft_config") and not loaded.model.training
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.equal(loaded.model(ids).logits, tiny_loaded().model(ids).logits)


def test_every_stage_writes_its_outputs_and_the_report_renders(finished):
    out, result, _ = finished
    assert list(result.stages) == list(STAGES)
    for name in STAGES:
        assert (out / name / "stage.json").is_file(), name
    assert (out / "01-directions" / "directions.safetensors").is_file()
    assert (out / "01-directions" / "direction_cosine.png").stat().st_size > 0
    for name in ("02-plane-base", "06-plane-harc"):
        plane = json.loads((out / name / "plane.json").read_text())
        labels = {p["label"] for p in plane["points"]}
        assert labels == {"harmless", "direct", "refusal_suppression", "prefix_injection"}
    assert (out / "03-train" / "adapter" / "adapter_config.json").is_file()
    for name in ("04-eval-base", "05-eval-harc"):
        results = json.loads((out / name / "results.json").read_text())
        keys = {f"{s['section']}/{s['name']}" for s in results["sections"]}
        assert {"harmfulness/direct", "over_refusal/harmless", "over_refusal/pseudo_harmful",
                "capability/knowledge_mc"} <= keys
    markdown = (out / "report.md").read_text()
    for heading in ("1. Harmfulness and refusal directions", "2. Where jailbreaks",
                    "3. HARC training", "4. Before / after", "6. Caveats"):
        assert heading in markdown
    assert "| base |" in markdown and "| HARC |" in markdown
    weights = tiny_config().weights  # the report states the weights that really ran
    assert (f"Loss = {weights.couple:g} prompt coupling + {weights.couple_resp:g} response "
            f"coupling + {weights.kl:g} KL(base || tuned)") in markdown
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4 and "<table>" in page
    assert "src='07-report" not in page  # self-contained: no relative image links
    assert (out / "07-report" / "plane_before_after.png").stat().st_size > 0


def test_the_tuned_plane_uses_the_base_plane_units(finished):
    out, _, _ = finished
    base = json.loads((out / "02-plane-base" / "plane.json").read_text())
    tuned = json.loads((out / "06-plane-harc" / "plane.json").read_text())
    assert tuned["plane"] == base["plane"]
    assert tuned["points"] != base["points"]  # the adapter moved the residuals


def test_a_second_run_skips_finished_stages(finished, monkeypatch):
    out, first, _ = finished

    def fail(*_args, **_kwargs):
        raise AssertionError("a finished stage ran again")

    for name in ("_directions", "_plane", "_train", "_evaluate"):
        monkeypatch.setattr(pipeline_module, name, fail)
    again = demo(out)
    assert all(record.skipped for record in again.stages.values())
    assert again.stages["07-report"].summary == first.stages["07-report"].summary


def test_an_interrupted_run_resumes_at_the_stage_it_stopped_in(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    real_evaluate = pipeline_module._evaluate

    def crash(loaded, adapter, name, folder, common):
        if adapter is not None:
            raise KeyboardInterrupt
        return real_evaluate(loaded, adapter, name, folder, common)

    monkeypatch.setattr(pipeline_module, "_evaluate", crash)
    with pytest.raises(KeyboardInterrupt):
        demo(out)
    assert (out / "04-eval-base" / "stage.json").is_file()
    assert not (out / "05-eval-harc" / "stage.json").is_file()
    monkeypatch.setattr(pipeline_module, "_evaluate", real_evaluate)
    ran = []
    real_train = pipeline_module._train
    monkeypatch.setattr(pipeline_module, "_train",
                        lambda *a, **k: ran.append("train") or real_train(*a, **k))
    result = demo(out)
    assert ran == []  # training finished before the interruption
    skipped = {name for name, record in result.stages.items() if record.skipped}
    assert skipped == set(STAGES[:4])
    assert (out / "report.html").is_file()


def test_changed_inputs_rerun_the_stage_and_everything_after(finished, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(finished[0], out)
    result = run_demo(tiny_loaded(), BUDGET, out, train_config=tiny_config(lr=1e-3),
                      progress=False)
    skipped = {name for name, record in result.stages.items() if record.skipped}
    assert skipped == {"01-directions", "02-plane-base"}
