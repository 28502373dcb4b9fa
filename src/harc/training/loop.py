"""The one training loop: optimizer steps of a LoRA adapter from ``start`` to ``max_steps``,
each step's terms logged once (main process), a progress bar, and a non-finite loss on any
rank stopping every rank with :class:`TrainingDivergedError`. HARC and the own-loss baselines
(circuit breakers, RepBend) plug in their micro-step and what runs between steps (HARC: the
top-K ramp, the direction refresh, diagnostics, checkpoints)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from harc.errors import HarcError
from harc.io import append_jsonl
from harc.training.optimization import LoraOptimization, MicroStep


class TrainingDivergedError(HarcError):
    """The loss became NaN or infinite on some rank; nothing of that step was applied."""


def run_steps(
    opt: LoraOptimization,
    micro_step_for: Callable[[int], MicroStep],
    *,
    start: int,
    max_steps: int,
    grad_accum: int,
    log_path: Path,
    desc: str,
    progress: bool = True,
    log_fields: Callable[[int], dict[str, Any]] | None = None,
    after_step: Callable[[int], None] | None = None,
    diverged_hint: Callable[[], str] = lambda: "Lower the lr.",
    total_name: str = "total",
) -> dict[str, float]:
    """Steps ``start + 1 .. max_steps``: ``micro_step_for(step)`` gives the step's micro-step,
    ``log_fields(step)`` extra fields of its log line, ``after_step(step)`` runs after the
    update. Returns the last step's terms (means over micro-batches and ranks; the minimised
    loss named ``total_name``)."""
    main = opt.accelerator.is_main_process
    bar = tqdm(total=max_steps, initial=start, desc=desc, disable=not (progress and main))
    opt.model.train()
    terms: dict[str, float] = {}
    try:
        for step in range(start + 1, max_steps + 1):
            result = opt.step(micro_step_for(step), grad_accum)
            terms = {(total_name if k == "total" else k): v for k, v in result.terms.items()}
            if not result.finite:
                raise TrainingDivergedError(
                    f"{desc}: non-finite loss at step {step}: {terms}. {diverged_hint()}")
            if main:
                extra = log_fields(step) if log_fields is not None else {}
                append_jsonl(log_path, {"step": step, "lr": opt.lr, **extra, **terms})
            bar.update(1)
            bar.set_postfix({name: f"{value:.3f}" for name, value in terms.items()})
            if after_step is not None:
                after_step(step)
    finally:
        bar.close()
    return terms
