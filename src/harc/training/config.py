"""HARC training configuration: validated, YAML in and out, with the paper's values as presets."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harc.errors import HarcError, invalid_settings
from harc.io import write_text_atomic

PRESETS: tuple[str, ...] = ("paper-llama3.1-8b", "paper-qwen2.5-7b", "cpu-demo", "cpu-full")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraSettings(_Strict):
    r: int = Field(32, gt=0)
    alpha: float = Field(64, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ]
    )


class LossWeights(_Strict):
    couple: float = Field(1.0, ge=0)
    couple_resp: float = Field(1.0, ge=0)
    kl: float = Field(10.0, ge=0)
    ce: float = Field(1.0, ge=0)


class DataSettings(_Strict):
    """Where training prompts and answers come from (``load_prompts`` specs or files).

    The paper oversamples pseudo-harmful prompts to 1500 in an epoch-based mix; here every
    micro-batch draws a fixed quota from each pool (``batch_pseudo``), which fixes their share
    directly, so there is no oversampling knob.
    """

    harmful: str = "builtin:harmful:train"
    harmless: str = "builtin:harmless:train"
    pseudo_harmful: str = "builtin:pseudo_harmful:train"
    circuit_breakers: str | None = None  # CB-style JSON: prompt + harmful output + refusal
    pairs: str | None = None  # prompt/response/kind file, used before self-supplied answers
    validation_harmful: str = "builtin:harmful:heldout"
    validation_harmless: str = "builtin:harmless:heldout"
    max_prompts: int | None = Field(None, gt=1)  # per set, a seeded sample; None = all
    extraction_size: int = Field(300, gt=1)  # per set, for (re-)extracting directions
    validation_size: int = Field(100, gt=1)
    self_supply: bool = True  # generate missing answers with the model itself
    supply_max_new_tokens: int = Field(64, gt=0)
    supply_ablation_layer: int | None = None  # refusal direction slot for ablation; None = auto


class HarcConfig(_Strict):
    """Everything a HARC run needs besides the model. Defaults are the paper's Llama values."""

    preset: str | None = None
    seed: int = 0
    margin: float = Field(0.5, gt=0, le=1)
    weights: LossWeights = Field(default_factory=LossWeights)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(100, ge=0)
    max_steps: int = Field(400, gt=0)
    grad_accum: int = Field(2, gt=0)
    batch_harmful: int = Field(6, ge=1)
    batch_harmless: int = Field(4, ge=0)
    batch_pseudo: int = Field(2, ge=0)
    response_tokens: int = Field(32, gt=0)
    max_length: int = Field(512, gt=8)
    top_k: int = Field(2, gt=0)
    top_k_late: int = Field(4, gt=0)
    top_k_ramp_step: int = Field(1000, ge=0)
    exclude_first: int = Field(4, ge=0)
    exclude_last: int = Field(4, ge=0)
    refresh_every: int = Field(200, ge=0)  # 0 disables re-extraction
    base_blend: float = Field(0.7, ge=0, le=1)  # v = unit(base_blend * v_base + rest * v_fresh)
    response_coupling_on: Literal["harmful_answer", "refusal"] = "harmful_answer"
    checkpoint_every: int = Field(100, ge=0)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    data: DataSettings = Field(default_factory=DataSettings)

    @model_validator(mode="after")
    def _consistent(self) -> HarcConfig:
        if self.batch_harmless + self.batch_pseudo == 0:
            raise ValueError(
                "at least one retain sample (harmless or pseudo-harmful) per batch is needed"
            )
        if self.top_k_late < self.top_k:
            raise ValueError("top_k_late must be >= top_k")
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> HarcConfig:
        source = Path(path)
        if not source.is_file():
            raise HarcError(f"{source}: no such config file")
        try:
            raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise HarcError(f"{source}: not valid YAML ({str(error).splitlines()[0]})") from None
        if not isinstance(raw, dict):
            raise HarcError(f"{source}: a HARC config is a mapping of settings, not a "
                            f"{type(raw).__name__}")
        return cls._parse(raw, str(source))

    @classmethod
    def from_preset(cls, name: str) -> HarcConfig:
        if name not in PRESETS:
            raise HarcError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
        text = resources.files("harc").joinpath("presets", f"{name}.yaml").read_text()
        return cls._parse(yaml.safe_load(text), f"preset {name}")

    @classmethod
    def load(cls, name_or_path: str) -> HarcConfig:
        """A preset name or a YAML file; a file may name a ``preset`` it overrides."""
        if name_or_path in PRESETS:
            return cls.from_preset(name_or_path)
        if not Path(name_or_path).is_file():
            raise HarcError(f"{name_or_path!r} is neither a preset ({', '.join(PRESETS)}) nor "
                            "a YAML file")
        return cls.from_yaml(name_or_path)

    @classmethod
    def _parse(cls, raw: dict, origin: str) -> HarcConfig:
        try:
            base = raw.get("preset")
            if base and origin.startswith("preset"):
                return cls.model_validate(raw)
            if base:
                merged = _deep_merge(cls.from_preset(base).model_dump(), raw)
                return cls.model_validate(merged)
            return cls.model_validate(raw)
        except ValidationError as error:
            raise invalid_settings(f"invalid HARC config ({origin})", error) from None

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.model_dump(), sort_keys=False)
        if path is not None:
            write_text_atomic(path, text)
        return text


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
