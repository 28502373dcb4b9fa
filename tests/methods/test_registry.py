from __future__ import annotations

import json
from typing import ClassVar

import pytest
from peft import PeftModel

from harc.errors import HarcError
from harc.methods import (
    Method,
    MethodOutput,
    available_methods,
    get_method,
    make_config,
    method_config,
    register_method,
)
from harc.methods.base import MethodConfig
from harc.training.config import HarcConfig
from tests.methods.helpers import LORA, tiny_data, tiny_loaded
from tests.tiny import tiny_model

TRAINING = ["circuit_breakers", "dpo", "harc", "harc_dpo", "repbend", "sft"]


def test_every_training_method_is_registered_with_a_cpu_preset():
    assert set(TRAINING) <= set(available_methods("training"))
    for name in TRAINING:
        method = get_method(name)
        assert isinstance(method, Method) and method.name == name and method.kind == "training"
        assert "cpu" in method.config_class.PRESETS
        assert isinstance(method_config(name, "cpu"), method.config_class)


def test_unknown_method_and_preset_are_named():
    with pytest.raises(HarcError, match=r"unknown method 'nope'; available: .*sft"):
        get_method("nope")
    with pytest.raises(HarcError, match="no preset 'huge'"):
        method_config("dpo", "huge")
    with pytest.raises(HarcError, match="invalid DpoConfig"):
        method_config("dpo", beta=-1)


def test_paper_defaults():
    dpo = method_config("dpo")
    assert (dpo.lora.r, dpo.lora.alpha, dpo.lora.dropout) == (16, 16, 0.05)
    assert (dpo.lr, dpo.beta, dpo.epochs, dpo.max_pairs) == (5e-5, 0.1, 1.0, 3000)
    cb = method_config("circuit_breakers")
    assert (cb.lora.r, cb.lora.alpha, cb.lora.dropout, cb.lr) == (16, 16, 0.05, 1e-4)
    assert (cb.alpha, cb.max_steps, cb.batch_size) == (10.0, 150, 16)
    assert method_config("harc_dpo").dpo == dpo
    assert method_config("harc").model_dump() == HarcConfig().model_dump()  # paper values
    assert method_config("harc", "cpu").max_steps == HarcConfig.from_preset("cpu-demo").max_steps


def test_presets_and_overrides_merge_nested_settings():
    config = method_config("sft", "cpu", lora={"r": 2}, lr=0.5)
    assert config.lora.r == 2 and config.lora.alpha == 16  # alpha from the cpu preset
    assert config.lr == 0.5 and config.max_steps == 10
    harc_dpo = method_config("harc_dpo", "cpu", dpo={"beta": 0.2})
    assert harc_dpo.dpo.beta == 0.2 and harc_dpo.dpo.max_steps == 8


def test_register_method_rejects_clashes_and_non_methods():
    class NotAMethod:
        pass

    with pytest.raises(TypeError):
        register_method(NotAMethod)

    class Impostor:
        name: ClassVar[str] = "sft"
        kind: ClassVar[str] = "training"
        config_class: ClassVar[type] = MethodConfig

        def run(self, loaded, data, out_dir, config, *, progress=True):
            raise NotImplementedError

    with pytest.raises(HarcError, match="already taken"):
        register_method(Impostor)
    assert type(get_method("sft")).__name__ == "SftMethod"


def test_method_output_round_trip_and_validation(tmp_path):
    output = MethodOutput(
        "x",
        "merged_then_adapter",
        tmp_path,
        adapter_dir=tmp_path / "a",
        merge_adapters=[tmp_path / "m"],
        base_model_note="note",
        steps=3,
        extra={"k": 1},
    )
    output.save()
    assert MethodOutput.read(tmp_path) == output
    with pytest.raises(HarcError, match="adapter_dir"):
        MethodOutput("x", "adapter", tmp_path)
    with pytest.raises(HarcError, match="wrapper factory"):
        MethodOutput("x", "wrapper", tmp_path)
    with pytest.raises(HarcError, match=r"no method_output\.json"):
        MethodOutput.read(tmp_path / "elsewhere")


def test_make_config_works_on_any_pydantic_config():
    assert make_config(HarcConfig, max_steps=3).max_steps == 3


def test_harc_as_a_method_trains_two_steps(tmp_path):
    config = method_config(
        "harc",
        lora=LORA,
        lr=5e-3,
        warmup_steps=1,
        max_steps=2,
        grad_accum=1,
        batch_harmful=2,
        batch_harmless=1,
        batch_pseudo=1,
        response_tokens=4,
        max_length=96,
        top_k=1,
        top_k_late=1,
        exclude_first=1,
        exclude_last=1,
        refresh_every=0,
        checkpoint_every=0,
    )
    loaded = tiny_loaded(num_layers=4)
    output = get_method("harc").run(loaded, tiny_data(), tmp_path, config, progress=False)
    assert output.kind == "adapter" and output.steps == 2
    assert output.metrics_path is not None and output.metrics_path.is_file()
    assert not any("lora" in name for name, _ in loaded.model.named_modules())
    reloaded = MethodOutput.read(tmp_path).apply(tiny_model("qwen2", num_layers=4))
    assert isinstance(reloaded, PeftModel)


def test_importing_harc_methods_registers_every_method() -> None:
    import subprocess
    import sys

    code = ("from harc.methods import available_methods; "
            "print(','.join(available_methods()))")
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip().split(",")
    assert listed == ["actadd", "cast", "circuit_breakers", "dpo", "harc", "harc_dpo",
                      "harc_guard", "repbend", "sft"]


def test_a_finished_harc_run_is_taken_as_the_harc_method_only_when_it_matches(tmp_path):
    from harc.methods.compare import build_method
    from harc.training.data import write_training_answers

    overrides = {"lora": LORA, "lr": 5e-3, "warmup_steps": 1, "max_steps": 1, "grad_accum": 1,
                 "batch_harmful": 1, "batch_harmless": 1, "batch_pseudo": 1,
                 "response_tokens": 4, "max_length": 96, "top_k": 1, "top_k_late": 1,
                 "exclude_first": 1, "exclude_last": 1, "refresh_every": 0,
                 "checkpoint_every": 0}
    loaded, data, run = tiny_loaded(num_layers=4), tiny_data(), tmp_path / "run"
    get_method("harc").run(loaded, data, run, method_config("harc", **overrides),
                           progress=False)
    write_training_answers(data, run)  # as `harc train` does
    out = tmp_path / "cmp" / "harc"
    output, cached = build_method("harc", loaded, data, out, preset=None, progress=False,
                                  overrides=overrides, from_run=run)
    assert not cached and output.adapter_dir == run / "adapter" and output.steps == 1
    assert output.extra["from_run"] == str(run)
    # the comparison reports the run's training time as the row's build time
    assert output.seconds == json.loads((run / "train_summary.json").read_text())["seconds"] > 0
    assert MethodOutput.read(out).adapter_dir == run / "adapter"
    with pytest.raises(HarcError, match=r"another config.*max_steps"):
        build_method("harc", loaded, data, tmp_path / "b", preset=None, progress=False,
                     overrides={**overrides, "max_steps": 2}, from_run=run)
    other = tiny_data()
    other.harmful[0].refusal = "No."
    with pytest.raises(HarcError, match="other data"):
        build_method("harc", loaded, other, tmp_path / "c", preset=None, progress=False,
                     overrides=overrides, from_run=run)
    with pytest.raises(HarcError, match="not a finished harc train run"):
        build_method("harc", loaded, data, tmp_path / "d", preset=None, progress=False,
                     overrides=overrides, from_run=tmp_path / "cmp")
