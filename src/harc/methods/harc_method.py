"""HARC itself as a method: :class:`~harc.training.harc.HarcTrainer` behind the method interface."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

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
