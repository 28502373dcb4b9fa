"""The method interface: a method turns a model + the shared training data into something
``harc evaluate`` can run.

* Training-time methods return a PEFT adapter (``kind="adapter"``), or, for HARC + DPO, adapters
  to merge into the base first and a final adapter on top (``kind="merged_then_adapter"``).
* Inference-time methods return a generation-time wrapper (``kind="wrapper"``): a factory that
  takes the :class:`~harc.models.LoadedModel` and returns the wrapped model.

Every output is also written to ``out_dir / OUTPUT_FILE`` (wrappers excepted, which are code),
so a later process can load it with :meth:`MethodOutput.read` and :meth:`MethodOutput.apply`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from harc.errors import HarcError, invalid_settings
from harc.io import write_json_atomic
from harc.models.loading import LoadedModel
from harc.training.data import TrainingData
from harc.training.distributed import is_main_process, wait_for_everyone

MethodKind = Literal["training", "inference"]
OutputKind = Literal["adapter", "merged_then_adapter", "wrapper"]
WrapperFactory = Callable[[LoadedModel], Any]
OUTPUT_FILE = "method_output.json"
# ``extra`` key: what a method's end-of-training checks found (e.g. a loss that stalled or ran
# away), one sentence each; ``harc compare`` carries them into its report
WARNINGS = "warnings"

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class MethodConfig(BaseModel):
    """Base of every method's config: strict, with named presets (``cpu`` at least) that
    override the paper defaults."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}


@dataclass
class MethodOutput:
    """What a method produced and how to load it for evaluation (see :meth:`apply`).

    ``merge_adapters`` are merged into the base, in order, before ``adapter_dir`` is applied;
    ``base_model_note`` says in words which base the adapter belongs to.
    """

    method: str
    kind: OutputKind
    out_dir: Path
    adapter_dir: Path | None = None
    merge_adapters: list[Path] = field(default_factory=list)
    base_model_note: str = ""
    wrapper: WrapperFactory | None = None
    log_path: Path | None = None
    metrics_path: Path | None = None
    steps: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind == "wrapper" and self.wrapper is None:
            raise HarcError(f"method {self.method}: a wrapper output needs a wrapper factory")
        if self.kind != "wrapper" and self.adapter_dir is None:
            raise HarcError(f"method {self.method}: an {self.kind} output needs adapter_dir")
        if self.kind == "merged_then_adapter" and not self.merge_adapters:
            raise HarcError(f"method {self.method}: merged_then_adapter needs merge_adapters")

    def apply(self, model: Any) -> Any:
        """The evaluated model: ``merge_adapters`` merged into ``model`` (in place: the base
        weights change), then ``adapter_dir`` loaded on top with ``PeftModel.from_pretrained``.
        Wrapper outputs need the LoadedModel: call ``output.wrapper(loaded)`` instead."""
        if self.kind == "wrapper":
            raise HarcError(f"method {self.method} is a generation-time wrapper; call its wrapper")
        from peft import PeftModel

        for adapter in self.merge_adapters:
            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        return PeftModel.from_pretrained(model, str(self.adapter_dir))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "kind": self.kind,
            "out_dir": str(self.out_dir),
            "adapter_dir": _text(self.adapter_dir),
            "merge_adapters": [str(path) for path in self.merge_adapters],
            "base_model_note": self.base_model_note,
            "log_path": _text(self.log_path),
            "metrics_path": _text(self.metrics_path),
            "steps": self.steps,
            "seconds": self.seconds,
            "extra": self.extra,
        }

    def save(self) -> Path:
        if self.kind == "wrapper":
            raise HarcError("a wrapper output is code and cannot be saved")
        target = self.out_dir / OUTPUT_FILE
        if is_main_process():  # the other ranks of a multi-process launch write nothing
            write_json_atomic(target, self.to_dict())
        wait_for_everyone()
        return target

    @classmethod
    def read(cls, out_dir: str | Path) -> MethodOutput:
        source = Path(out_dir) / OUTPUT_FILE
        if not source.is_file():
            raise HarcError(f"{out_dir}: no {OUTPUT_FILE}; not a method output directory")
        raw = json.loads(source.read_text(encoding="utf-8"))
        return cls(
            method=raw["method"],
            kind=raw["kind"],
            out_dir=Path(raw["out_dir"]),
            adapter_dir=_path(raw["adapter_dir"]),
            merge_adapters=[Path(path) for path in raw["merge_adapters"]],
            base_model_note=raw["base_model_note"],
            log_path=_path(raw["log_path"]),
            metrics_path=_path(raw["metrics_path"]),
            steps=raw["steps"],
            seconds=raw["seconds"],
            extra=raw["extra"],
        )


class TrainedAdapter(Protocol):
    """What the training loops return (``train_lora``, ``train_and_save``)."""

    adapter_dir: Path
    log_path: Path
    steps: int
    seconds: float


def saved_adapter_output(
    method: str, loaded: LoadedModel, out: Path, result: TrainedAdapter,
    extra: dict[str, Any],
) -> MethodOutput:
    """The saved :class:`MethodOutput` of a training-time method that made one adapter; its
    ``seconds`` are the training's (carried across a resume)."""
    output = MethodOutput(
        method=method,
        kind="adapter",
        out_dir=out,
        adapter_dir=result.adapter_dir,
        base_model_note=f"adapter for {loaded.name} as loaded",
        log_path=result.log_path,
        steps=result.steps,
        seconds=result.seconds,
        extra=extra,
    )
    output.save()
    return output


@runtime_checkable
class Method(Protocol):
    """A named safety method. ``config_class`` holds its paper defaults and presets."""

    name: ClassVar[str]
    kind: ClassVar[MethodKind]
    config_class: ClassVar[type[BaseModel]]

    def run(
        self,
        loaded: LoadedModel,
        data: TrainingData,
        out_dir: str | Path,
        config: Any,
        *,
        progress: bool = True,
    ) -> MethodOutput:
        """Train (or build) the method on ``loaded``; ``loaded.model`` is left as it was."""
        ...


def make_config(
    config_class: type[ConfigT], preset: str | None = None, **overrides: Any
) -> ConfigT:
    """``config_class`` defaults, then the named preset, then ``overrides`` (one level deep
    for nested models: ``lora={"r": 8}`` changes only ``r``)."""
    values: dict[str, Any] = {}
    if preset is not None:
        presets: dict[str, dict[str, Any]] = getattr(config_class, "PRESETS", {})
        if preset not in presets:
            raise HarcError(
                f"{config_class.__name__} has no preset {preset!r}; available: "
                f"{', '.join(sorted(presets)) or 'none'}"
            )
        values = _merge(values, presets[preset])
    values = _merge(values, overrides)
    try:
        return config_class.model_validate(_merge(config_class().model_dump(), values))
    except ValidationError as error:
        raise invalid_settings(f"invalid {config_class.__name__}", error) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)
