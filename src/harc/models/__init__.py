"""Model loading and architecture discovery for HARC."""

from __future__ import annotations

from harc.models.blocks import find_decoder_blocks, num_residual_slots
from harc.models.default import default_model_path, load_default
from harc.models.loading import LoadedModel, load_model

__all__ = [
    "LoadedModel",
    "default_model_path",
    "find_decoder_blocks",
    "load_default",
    "load_model",
    "num_residual_slots",
]
