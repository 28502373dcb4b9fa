"""Resumable training checkpoints: adapter, optimizer, scheduler, RNG, the training time so
far and (HARC) the current directions; the own-loop baselines write them too, without directions.

Each checkpoint is a directory ``checkpoints/step-NNNNNN`` written under a temporary name and
renamed into place, so a crash never leaves a half-written checkpoint that looks complete.
Trainer state is read back with ``torch.load(weights_only=True)``: plain tensors and
containers only, no arbitrary pickles.

Under several processes the main process writes everything but the random-number state, which
every rank writes for itself (``rng-rank{N}.pt``: CPU, CUDA, NumPy and Python generators), with
barriers around; the optimizer state is the same on every rank (gradients are averaged), so one
copy is kept. Resuming on the same number of processes continues bit for bit; on another number
the weights, optimizer, scheduler and directions are restored, but the row draws depend on the
rank, so the run continues differently from an uninterrupted one (a warning says so).
A resumed run's JSON Lines logs are cut back to the checkpoint's step (:func:`truncate_log`).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from accelerate import Accelerator
from peft import PeftModel, set_peft_model_state_dict
from pydantic import BaseModel
from safetensors.torch import load_file

from harc.directions.direction_set import DirectionSet
from harc.errors import HarcError
from harc.io import write_json_atomic
from harc.training.distributed import is_main_process, wait_for_everyone

if TYPE_CHECKING:
    from harc.training.optimization import LoraOptimization

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
SETTINGS_FILE = "resume_settings.json"
_PREFIX = "step-"


@dataclass
class Checkpoint:
    path: Path
    step: int
    slots: list[int]
    directions: DirectionSet | None
    seconds: float | None  # training time up to this step; None in checkpoints from before


def save_checkpoint(
    out_dir: Path,
    step: int,
    model: PeftModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    directions: DirectionSet | None,
    slots: list[int],
    keep: int = 2,
    accelerator: Accelerator | None = None,
    seconds: float | None = None,
) -> Path:
    """Write checkpoint ``step``; with ``accelerator``, every rank must call this together.
    ``seconds``: the training time so far, which a resumed run's time continues from."""
    main = accelerator is None or accelerator.is_main_process
    rank = accelerator.process_index if accelerator is not None else 0
    processes = accelerator.num_processes if accelerator is not None else 1
    root = out_dir / CHECKPOINT_DIR
    final = root / f"{_PREFIX}{step:06d}"
    staging = root / f".{final.name}.tmp"
    if main:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    wait_for_everyone()
    torch.save(_rng_state(), staging / f"rng-rank{rank}.pt")
    wait_for_everyone()
    if main:
        model.save_pretrained(staging / "adapter")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                   staging / "trainer_state.pt")
        if directions is not None:
            directions.save(staging / "directions")
        (staging / "state.json").write_text(
            json.dumps({"step": step, "slots": slots, "processes": processes,
                        "seconds": seconds}))
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        for old in list_checkpoints(out_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    wait_for_everyone()
    return final


def resume_from(
    checkpoint: Path, opt: LoraOptimization, logs: Sequence[Path], desc: str,
) -> Checkpoint:
    """Restore ``opt``'s adapter, optimizer, scheduler and this rank's RNG from ``checkpoint``
    and cut the JSON Lines ``logs`` back to its step (main process); what every resumable
    training loop does on resuming."""
    accelerator = opt.accelerator
    restored = load_checkpoint(checkpoint, opt.model, opt.optimizer, opt.scheduler,
                               process=accelerator.process_index,
                               processes=accelerator.num_processes)
    if accelerator.is_main_process:
        for log in logs:
            truncate_log(log, restored.step)
        logger.info("%s: resumed from %s (step %d)", desc, checkpoint, restored.step)
    return restored


def claim_for_resume(folder: Path, model: str, config: BaseModel, has_checkpoints: bool, *,
                     not_settings: Collection[str] = ()) -> None:
    """Record in ``folder`` what its run trains: the ``model``'s name and ``config``, less
    ``checkpoint_every`` (when checkpoints are written does not change the result) and the
    fields in ``not_settings``. Checkpoints there that were written for another model or other
    settings are an error rather than resumed: the result would be neither run. (Settings are
    compared as JSON.)"""
    settings = {"model": model, **config.model_dump(
        mode="json", exclude={"checkpoint_every", *not_settings})}
    record = folder / SETTINGS_FILE
    settings = json.loads(json.dumps(settings))
    if has_checkpoints and record.is_file():
        stored = json.loads(record.read_text(encoding="utf-8"))
        if stored != settings:
            differ = sorted(key for key in {*stored, *settings}
                            if stored.get(key) != settings.get(key))
            raise HarcError(f"{folder} holds checkpoints of a run with other settings "
                            f"({', '.join(differ)}); remove them or use another output folder")
    if is_main_process():
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(record, settings)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": _numpy_state_to_tensors(np.random.get_state()),
        "python_rng": json.dumps(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(_numpy_state_from_tensors(state["numpy_rng"]))
    random.setstate(_python_state(json.loads(state["python_rng"])))
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])


def list_checkpoints(out_dir: Path) -> list[Path]:
    root = out_dir / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    return sorted(
        path for path in root.iterdir() if path.is_dir() and path.name.startswith(_PREFIX)
    )


def latest_checkpoint(out_dir: Path) -> Path | None:
    checkpoints = list_checkpoints(out_dir)
    return checkpoints[-1] if checkpoints else None


def load_checkpoint(
    path: Path,
    model: PeftModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    process: int = 0,
    processes: int = 1,
) -> Checkpoint:
    """Restore weights, optimizer, scheduler and this rank's (``process``) RNG in place;
    return step, slots, directions and the training time so far."""
    adapter_file = path / "adapter" / "adapter_model.safetensors"
    if not adapter_file.is_file():
        raise HarcError(f"{path}: incomplete checkpoint (no adapter_model.safetensors)")
    result = set_peft_model_state_dict(model, load_file(str(adapter_file)))
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise HarcError(
            f"{path}: adapter does not match the model (unexpected keys {unexpected[:3]})"
        )
    state: dict[str, Any] = torch.load(path / "trainer_state.pt", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    meta = json.loads((path / "state.json").read_text())
    saved = int(meta.get("processes", 1))
    if saved != processes and process == 0:
        logger.warning(
            "%s was written by %d process(es), resuming on %d: weights, optimizer, scheduler and "
            "directions are restored, but the rows each rank draws depend on its rank, so the run "
            "continues differently from an uninterrupted one", path, saved, processes)
    rng_file = path / f"rng-rank{process}.pt"
    if rng_file.is_file():
        _set_rng_state(torch.load(rng_file, weights_only=True))
    elif "torch_rng" in state:  # a checkpoint from before per-rank RNG files
        _set_rng_state(state)
    directions = path / "directions.safetensors"
    return Checkpoint(
        path,
        int(meta["step"]),
        list(meta["slots"]),
        DirectionSet.load(directions) if directions.is_file() else None,
        None if meta.get("seconds") is None else float(meta["seconds"]),
    )


def _numpy_state_to_tensors(state: tuple) -> dict[str, Any]:
    name, keys, position, has_gauss, cached = state
    return {
        "name": name,
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "position": int(position),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }


def _numpy_state_from_tensors(state: dict[str, Any]) -> tuple:
    return (
        state["name"],
        state["keys"].numpy().astype(np.uint32),
        state["position"],
        state["has_gauss"],
        state["cached"],
    )


def _python_state(raw: list) -> tuple:
    version, internal, gauss = raw
    return version, tuple(internal), gauss


def truncate_log(path: Path, last_step: int) -> None:
    """Drop log lines written after the checkpoint we resume from, and a last line a crash
    cut short (it cannot be parsed; any other unparsable line is an error)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                logger.warning("%s: dropped a partial last line (the run was interrupted)", path)
                continue
            raise HarcError(f"{path}: line {number} is not JSON; the log is damaged") from None
        if record.get("step", 0) <= last_step:
            kept.append(line)
    path.write_text("".join(line + "\n" for line in kept))
