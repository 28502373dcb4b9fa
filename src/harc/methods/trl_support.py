"""What the TRL-based methods (SFT, DPO) share: their optimisation settings, the trainer
arguments built from them, and a scope that trains, saves the adapter and log, and hands
``loaded.model`` back as it was (no LoRA layers, eval mode, ``use_cache`` restored).

TRL is imported only inside :func:`trl_classes`, so ``import harc.methods`` works without
the ``train`` extra.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from harc.errors import HarcError
from harc.io import write_text_atomic
from harc.methods.base import MethodConfig
from harc.methods.loop import adapter_scope
from harc.models.loading import LoadedModel
from harc.training.checkpoint import claim_for_resume
from harc.training.config import LoraSettings

LOG_FILE = "train_log.jsonl"
SECONDS_FILE = "harc_seconds.json"  # in each checkpoint: the training time up to it


class TrlConfig(MethodConfig):
    seed: int = 0
    lora: LoraSettings = Field(default_factory=lambda: LoraSettings(r=16, alpha=16, dropout=0.05))
    lr: float = Field(5e-5, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, gt=0)  # when set, overrides epochs
    batch_size: int = Field(8, gt=0)
    grad_accum: int = Field(2, gt=0)
    warmup: float = Field(0.1, ge=0)  # < 1: a fraction of the steps; >= 1: a step count
    lr_scheduler: str = "linear"
    weight_decay: float = Field(0.0, ge=0)
    max_length: int = Field(512, gt=8)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    checkpoint_every: int = Field(0, ge=0)  # 0: no checkpoints


def trl_classes(names: tuple[str, ...]) -> tuple[Any, ...]:
    try:
        import trl
    except ImportError as error:
        raise HarcError(
            "this method needs TRL: pip install 'harc[train]' (trl and datasets)"
        ) from error
    return tuple(getattr(trl, name) for name in names)


def trainer_arguments(
    args_class: type,
    config: TrlConfig,
    out_dir: Path,
    loaded: LoadedModel,
    progress: bool,
    **extra: Any,
) -> Any:
    """``args_class`` (SFTConfig / DPOConfig) from ``config``; arguments this TRL or
    transformers version does not know are left out (e.g. ``activation_checkpointing``,
    the newer name of ``gradient_checkpointing``)."""
    warmup = int(config.warmup) if config.warmup >= 1 else config.warmup
    values: dict[str, Any] = {
        "output_dir": str(out_dir / "trainer"),
        "seed": config.seed,
        "data_seed": config.seed,
        "learning_rate": config.lr,
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps if config.max_steps is not None else -1,
        "per_device_train_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "warmup_steps": warmup,
        "lr_scheduler_type": config.lr_scheduler,
        "weight_decay": config.weight_decay,
        "max_length": config.max_length,
        "report_to": "none",
        "save_strategy": "steps" if config.checkpoint_every else "no",
        "save_steps": config.checkpoint_every or 500,
        "save_total_limit": 2,
        "logging_steps": 1,
        "disable_tqdm": not progress,
        "use_cpu": loaded.device.type == "cpu",
        "bf16": config.mixed_precision == "bf16",
        "fp16": config.mixed_precision == "fp16",
        "activation_checkpointing": False,
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
        **extra,
    }
    known = {field.name for field in dataclasses.fields(args_class)}
    if "activation_checkpointing" in known:
        values.pop("gradient_checkpointing")
    return args_class(**{key: value for key, value in values.items() if key in known})


@dataclass
class TrlResult:
    adapter_dir: Path
    log_path: Path
    steps: int
    seconds: float  # training time, carried across a resume
    metrics: dict[str, float]


@contextmanager
def trl_scope(loaded: LoadedModel, *, progress: bool = True) -> Iterator[None]:
    """Undo what building and training a TRL trainer does to ``loaded.model``; without
    ``progress``, also silence the dataset-preparation bars of ``datasets``."""
    import datasets

    use_cache = getattr(loaded.model.config, "use_cache", None)
    bars_were_on = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    with adapter_scope(loaded):
        try:
            yield
        finally:
            if use_cache is not None:
                loaded.model.config.use_cache = use_cache
            if bars_were_on:
                datasets.enable_progress_bars()


def train_and_save(
    trainer: Any, out_dir: Path, config: TrlConfig, *, model: str, progress: bool = True,
) -> TrlResult:
    """``trainer.train()``, then the adapter to ``out_dir/adapter`` and TRL's log history
    (one JSON line per logged step, the run summary last) to ``out_dir/train_log.jsonl``.
    With ``config.checkpoint_every``, the trainer saves checkpoints in its output folder and a
    run that finds one there continues from the latest (the settings and the ``model`` name
    checked, the training time carried over)."""
    from transformers import PrinterCallback, TrainerCallback
    from transformers.trainer_utils import get_last_checkpoint

    if not progress:
        trainer.remove_callback(PrinterCallback)  # it prints every log line when tqdm is off
    folder = Path(trainer.args.output_dir)
    last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    claim_for_resume(folder, model, config, has_checkpoints=last is not None)
    started = time.perf_counter() - _seconds_at(last)

    class RecordSeconds(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_world_process_zero:
                saved = folder / f"checkpoint-{state.global_step}"
                write_text_atomic(saved / SECONDS_FILE,
                                  json.dumps({"seconds": time.perf_counter() - started}))

    trainer.add_callback(RecordSeconds())
    output = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - started
    adapter_dir = out_dir / "adapter"
    log_path = out_dir / LOG_FILE
    if trainer.accelerator.is_main_process:  # TRL trains every rank; one writes
        trainer.model.save_pretrained(adapter_dir)
        history = trainer.state.log_history
        write_text_atomic(log_path, "".join(json.dumps(row) + "\n" for row in history))
    trainer.accelerator.wait_for_everyone()
    return TrlResult(adapter_dir, log_path, int(output.global_step), seconds,
                     dict(output.metrics))


def _seconds_at(checkpoint: str | None) -> float:
    """The training time recorded in a checkpoint (0 for none, or one from before)."""
    record = Path(checkpoint) / SECONDS_FILE if checkpoint is not None else None
    if record is None or not record.is_file():
        return 0.0
    return float(json.loads(record.read_text(encoding="utf-8"))["seconds"])
