"""Batched generation with an on-disk cache (transformers, optionally vLLM)."""

from __future__ import annotations

from harc.generation.base import CachedGenerator
from harc.generation.cache import GenerationCache
from harc.generation.factory import make_generator
from harc.generation.generator import Generator
from harc.generation.settings import GenerationSettings
from harc.generation.stopping import end_of_turn_id, stop_token_ids
from harc.generation.vllm_backend import VLLMGenerator, vllm_available

__all__ = [
    "CachedGenerator",
    "GenerationCache",
    "GenerationSettings",
    "Generator",
    "VLLMGenerator",
    "end_of_turn_id",
    "make_generator",
    "stop_token_ids",
    "vllm_available",
]
