"""HARC fine-tuning: losses, layer schedule, data, the trainer and its configuration."""

from __future__ import annotations

from harc.training.config import PRESETS, HarcConfig
from harc.training.harc import HarcTrainer, TrainResult
from harc.training.loop import TrainingDivergedError
from harc.training.run import train_harc

__all__ = [
    "PRESETS",
    "HarcConfig",
    "HarcTrainer",
    "TrainResult",
    "TrainingDivergedError",
    "train_harc",
]
