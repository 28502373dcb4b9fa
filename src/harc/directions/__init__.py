"""Harmfulness and refusal directions: extraction, statistics, file format."""

from __future__ import annotations

from harc.directions.direction_set import DirectionSet
from harc.directions.extraction import (
    extract_prompt_directions,
    extract_response_directions,
    mean_difference,
)
from harc.directions.statistics import (
    CosineInterval,
    SeparationStats,
    bootstrap_prompt_cosine,
    projection_cosines,
    separation,
)

__all__ = [
    "CosineInterval",
    "DirectionSet",
    "SeparationStats",
    "bootstrap_prompt_cosine",
    "extract_prompt_directions",
    "extract_response_directions",
    "mean_difference",
    "projection_cosines",
    "separation",
]
