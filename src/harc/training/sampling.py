"""Stateless, seeded sampling of training examples.

The examples of a micro-batch depend only on (seed, step, micro-batch, pool, process), so a
resumed run draws exactly what an uninterrupted one would, with no sampler state to save,
and data-parallel processes draw different examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def draw(
    pool: Sequence[T], count: int, *, seed: int, step: int, micro: int, pool_id: int, process: int
) -> list[T]:
    """``count`` items of ``pool`` (with replacement only when the pool is smaller)."""
    if count == 0 or not pool:
        return []
    rng = np.random.default_rng([seed, step, micro, pool_id, process])
    return [pool[i] for i in rng.choice(len(pool), size=count, replace=len(pool) < count)]
