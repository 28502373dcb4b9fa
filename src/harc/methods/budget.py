"""The ``full`` preset of every trained method: equal compute with HARC's ``cpu-full`` budget.

Every trained baseline gets HARC's LoRA (rank, alpha, dropout, target modules), learning
rate, warm-up, number of optimizer steps and sequence length, and about the same number of
training rows per step (HARC draws 2 harmful + 2 harmless + 1 pseudo-harmful = 5): SFT 5 rows,
DPO 5 preference pairs (10 sequences plus the reference pass), Circuit Breakers and RepBend 3
rows of each kind (6 rows; their batch is per kind, so 5 cannot be split evenly and the
baselines get the larger side). The prompts are the shared training data of ``harc compare``.
Read from the HARC preset, so changing that budget changes every method with it.

The learning rate is the one exception a method may take, chosen on its training log (never on
an evaluation set) and documented in its preset: RepBend's unbounded push diverged at HARC's.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

from harc.training.config import HarcConfig

FULL = "full"
HARC_FULL_PRESET = "cpu-full"


@functools.cache
def _harc_budget() -> HarcConfig:
    """The HARC preset, parsed once for all the methods' presets (read only)."""
    return HarcConfig.from_preset(HARC_FULL_PRESET)


def harc_rows_per_step(config: HarcConfig) -> int:
    return config.batch_harmful + config.batch_harmless + config.batch_pseudo


def equal_compute(style: Literal["trl", "loop"], *, per_kind: bool = False) -> dict[str, Any]:
    """Preset values for a TRL method (``warmup``, ``grad_accum``) or an own-loop method
    (``warmup_steps``); ``per_kind``: the batch counts rows of each of two kinds."""
    harc = _harc_budget()
    rows = harc_rows_per_step(harc)
    values: dict[str, Any] = {
        "lora": harc.lora.model_dump(),
        "lr": harc.lr,
        "max_steps": harc.max_steps,
        "max_length": harc.max_length,
        "grad_accum": harc.grad_accum,
        "batch_size": math.ceil(rows / 2) if per_kind else rows,
        "seed": harc.seed,
        "checkpoint_every": harc.checkpoint_every,
    }
    values["warmup" if style == "trl" else "warmup_steps"] = harc.warmup_steps
    return values
