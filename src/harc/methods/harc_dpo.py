"""HARC + DPO (HARC_METHOD §7): merge a trained HARC adapter into the base, then train a DPO
LoRA on top of the merged model (which is also DPO's reference).

Output (``kind="merged_then_adapter"``): ``OUT/harc_adapter`` (a copy of the HARC adapter),
``OUT/adapter`` (the DPO adapter) and ``method_output.json``. To evaluate, ``harc evaluate``
must build the same model:

    base = <load the same base model>
    merged = PeftModel.from_pretrained(base, "OUT/harc_adapter").merge_and_unload()
    model = PeftModel.from_pretrained(merged, "OUT/adapter")

which is ``MethodOutput.read(OUT).apply(base)``. With ``save_merged_base`` the merged model
is also written to ``OUT/merged_base`` (a plain model directory: load it, then the DPO
adapter; large for 7-8B models).

The merge changes ``loaded.model``'s weights in place. With ``restore_base`` (default) the
HARC update is subtracted again afterwards, W - scale * B @ A per LoRA layer: exact up to
floating-point rounding in float32; with bf16/fp16 weights reload the model instead if
later runs must see the bit-identical base.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from peft import PeftModel
from peft.tuners.lora import LoraLayer
from pydantic import Field

from harc.errors import HarcError
from harc.methods.base import MethodConfig, MethodOutput
from harc.methods.budget import FULL
from harc.methods.dpo import DpoConfig, dpo_pairs, train_dpo
from harc.methods.registry import register_method
from harc.models.loading import LoadedModel
from harc.training.data import TrainingData


class HarcDpoConfig(MethodConfig):
    harc_adapter: str | None = None  # a HARC adapter directory (RUN/adapter); required to run
    dpo: DpoConfig = Field(default_factory=DpoConfig)
    restore_base: bool = True
    save_merged_base: bool = False

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "cpu": {"dpo": DpoConfig.PRESETS["cpu"]}, FULL: {"dpo": DpoConfig.PRESETS[FULL]}}


def subtract_adapter(model: torch.nn.Module, adapter_dir: str | Path) -> torch.nn.Module:
    """Undo ``merge_and_unload`` of ``adapter_dir`` on ``model`` in place (see the module
    docstring on precision); returns the model without LoRA layers."""
    peft_model = PeftModel.from_pretrained(model, str(adapter_dir))
    with torch.no_grad():
        for module in peft_model.modules():
            if isinstance(module, LoraLayer) and "default" in module.lora_A:
                base = module.get_base_layer()
                base.weight -= module.get_delta_weight("default").to(base.weight.dtype)
    return peft_model.unload()


@register_method
class HarcDpoMethod:
    name: ClassVar[str] = "harc_dpo"
    kind: ClassVar[Literal["training"]] = "training"
    config_class: ClassVar[type[HarcDpoConfig]] = HarcDpoConfig

    def run(
        self,
        loaded: LoadedModel,
        data: TrainingData,
        out_dir: str | Path,
        config: HarcDpoConfig,
        *,
        progress: bool = True,
    ) -> MethodOutput:
        out = Path(out_dir)
        harc_adapter = _checked_adapter(config.harc_adapter)
        pairs = dpo_pairs(data, config.dpo)
        out.mkdir(parents=True, exist_ok=True)
        copied = out / "harc_adapter"
        if copied.resolve() != harc_adapter.resolve():
            shutil.rmtree(copied, ignore_errors=True)
            shutil.copytree(harc_adapter, copied)
        adapter_sha256 = _digest(copied)
        merged = PeftModel.from_pretrained(loaded.model, str(copied)).merge_and_unload()
        if merged is not loaded.model:
            raise HarcError("merge_and_unload returned a new model object; cannot train on it")
        try:
            if config.save_merged_base:
                merged.save_pretrained(out / "merged_base")
                loaded.tokenizer.save_pretrained(out / "merged_base")
            # the merged model is the base plus this HARC adapter: DPO checkpoints trained on
            # another adapter's merge must not be resumed
            merged_name = f"{loaded.name} + HARC adapter sha256 {adapter_sha256}"
            result = train_dpo(loaded, pairs, out, config.dpo, model_name=merged_name,
                               progress=progress)
        finally:
            if config.restore_base:
                subtract_adapter(loaded.model, copied)
                loaded.model.eval()
        note = f"{loaded.name} with harc_adapter merged in (merge_and_unload), then this adapter"
        if config.save_merged_base:
            note += f"; the merged base is saved at {out / 'merged_base'}"
        output = MethodOutput(
            method=self.name,
            kind="merged_then_adapter",
            out_dir=out,
            adapter_dir=result.adapter_dir,
            merge_adapters=[copied],
            base_model_note=note,
            log_path=result.log_path,
            steps=result.steps,
            seconds=result.seconds,  # the DPO stage's training; HARC's is HARC's row
            extra={
                "harc_adapter_source": str(harc_adapter),
                "harc_adapter_sha256": adapter_sha256,
                "merged_base_dir": str(out / "merged_base") if config.save_merged_base else None,
                "pairs": len(pairs),
                "trainer": "trl.DPOTrainer",
                "config": config.model_dump(),
            },
        )
        output.save()
        return output


def _checked_adapter(path: str | None) -> Path:
    if path is None:
        raise HarcError("harc_dpo needs harc_adapter: the adapter directory of a HARC run")
    adapter = Path(path)
    if not (adapter / "adapter_config.json").is_file():
        raise HarcError(f"{adapter}: not a PEFT adapter directory (no adapter_config.json)")
    return adapter


def _digest(adapter: Path) -> str:
    digest = hashlib.sha256()
    for name in sorted(p.name for p in adapter.iterdir() if p.is_file()):
        digest.update(name.encode())
        digest.update((adapter / name).read_bytes())
    return digest.hexdigest()
