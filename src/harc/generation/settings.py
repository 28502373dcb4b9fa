"""Decoding settings shared by every generator backend."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class GenerationSettings:
    """How to decode. ``batch_size`` changes speed, never the cached result (it is not in the key).

    Greedy decoding ignores ``temperature``, ``top_p`` and ``seed``. Sampling uses exactly
    ``temperature`` and ``top_p`` (no top-k, no repetition penalty, whatever the model's own
    generation config says) and is reproducible for the same prompts, settings and seed.
    """

    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.do_sample and self.temperature <= 0:
            raise ValueError(f"sampling needs temperature > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    def cache_fields(self) -> dict[str, Any]:
        """The fields that decide the output: everything but ``batch_size``; for greedy
        decoding the sampling fields are dropped too, since they cannot change the result."""
        fields = asdict(self)
        fields.pop("batch_size")
        if not self.do_sample:
            for name in ("temperature", "top_p", "seed"):
                fields.pop(name)
        return fields
