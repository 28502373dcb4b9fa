"""Calling a ``harc.generation.Generator`` with settings that default per use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def default_settings(**fields: Any) -> Any:
    from harc.generation import GenerationSettings

    return GenerationSettings(**fields)


def generate(generator: Any, prompts: Sequence[str], settings: Any) -> list[str]:
    if not prompts:
        return []
    outputs = list(generator.generate(list(prompts), settings))
    if len(outputs) != len(prompts):
        raise RuntimeError(f"generator returned {len(outputs)} outputs for {len(prompts)} prompts")
    return [text if isinstance(text, str) else "" for text in outputs]
