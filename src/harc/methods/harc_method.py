"""HARC itself as a method: :class:`~harc.training.harc.HarcTrainer` behind the method interface."""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from harc.errors import HarcError
from harc.methods.base import MethodOutput
from harc.methods.budget import FULL, HARC_FULL_PRESET
from harc.methods.loop import adapter_scope
from harc.methods.registry import register_method
from harc.models.loading import LoadedModel
from harc.training.config import HarcConfig
from harc.training.data import TrainingData
from harc.training.harc import HarcTrainer


def _preset(name: str) -> dict[str, Any]:
    text = resources.files("harc").joinpath("presets", f"{name}.yaml").read_text()
    return yaml.safe_load(text)


class HarcMethodConfig(HarcConfig):
    """:class:`HarcConfig` (paper defaults for Llama-3.1-8B); ``cpu`` is the ``cpu-demo``
    preset. Its ``data`` section is not read here: the data come in ready-made."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "cpu": _preset("cpu-demo"),
        FULL: _preset(HARC_FULL_PRESET),
        "paper-qwen2.5-7b": _preset("paper-qwen2.5-7b"),
    }


@register_method
class HarcMethod:
    name: ClassVar[str] = "harc"
    kind: ClassVar[Literal["training"]] = "training"
    config_class: ClassVar[type[HarcMethodConfig]] = HarcMethodConfig

    def run(
        self,
        loaded: LoadedModel,
        data: TrainingData,
        out_dir: str | Path,
        config: HarcConfig,
        *,
        progress: bool = True,
    ) -> MethodOutput:
        started = time.perf_counter()
        out = Path(out_dir)
        plain = HarcConfig.model_validate(config.model_dump())
        # HarcTrainer wraps loaded.model with PEFT and keeps no handle we could unload.
        with adapter_scope(loaded):
            result = HarcTrainer(loaded, plain, data, out, progress=progress).run()
        output = MethodOutput(
            method=self.name,
            kind="adapter",
            out_dir=out,
            adapter_dir=result.adapter_dir,
            base_model_note=f"adapter for {loaded.name} as loaded",
            log_path=result.files.get("train_log"),
            metrics_path=result.files.get("diag_log"),
            steps=result.steps,
            seconds=time.perf_counter() - started,
            extra={"slots": result.slots, "files": {k: str(v) for k, v in result.files.items()}},
        )
        output.save()
        return output


def finished_run_output(
    name: str, run_dir: Path, config: Any, loaded: LoadedModel, data: TrainingData,
    out_dir: Path,
) -> MethodOutput:
    """A finished ``harc train`` run as method ``harc``'s output, so a run trained (and
    validated) once is not trained again: its config must equal the method config the
    compare would train with (all but the data section, which the compare replaces with the
    shared data), its training answers the shared data's, its model the loaded one."""
    from harc.training.data import training_answers_text

    if name != "harc":
        raise HarcError(f"--from-run takes a harc train run, for method harc only (not {name})")
    run = Path(run_dir)
    for needed in ("config.yaml", "training_answers.jsonl", "train_summary.json",
                   "adapter/adapter_config.json"):
        if not (run / needed).is_file():
            raise HarcError(f"{run}: not a finished harc train run (no {needed})")
    theirs = HarcConfig.from_yaml(run / "config.yaml").model_dump(exclude={"data"})
    ours = HarcConfig.model_validate(config.model_dump()).model_dump(exclude={"data"})
    if theirs != ours:
        differ = sorted(key for key in ours if theirs.get(key) != ours[key])
        raise HarcError(f"{run} was trained with another config than the compare's {name} "
                        f"(differs in {', '.join(differ)})")
    recorded = (run / "training_answers.jsonl").read_text(encoding="utf-8")
    if training_answers_text(data) != recorded:
        raise HarcError(f"{run} was trained on other data than the compare's shared data")
    summary = json.loads((run / "train_summary.json").read_text(encoding="utf-8"))
    if summary.get("model") != loaded.name:
        raise HarcError(f"{run} trained {summary.get('model')!r}, not {loaded.name!r}")
    output = MethodOutput(
        method=name, kind="adapter", out_dir=out_dir, adapter_dir=run / "adapter",
        base_model_note=f"adapter for {loaded.name} as loaded (from {run})",
        log_path=run / "train_log.jsonl", metrics_path=run / "diag_log.jsonl",
        steps=int(summary["steps"]), seconds=float(summary["seconds"]),
        extra={"from_run": str(run), "slots": summary.get("slots")})
    output.save()
    return output
