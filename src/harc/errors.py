"""Exceptions harc raises on bad input. Each names what was wrong and where."""

from __future__ import annotations


class HarcError(Exception):
    """Base class for every error harc raises on purpose."""


class UnknownArchitectureError(HarcError):
    """The decoder blocks of a model could not be located."""


class ChatTemplateError(HarcError):
    """A tokenizer has no usable chat template, or the template hides the user text."""


class TruncationError(HarcError):
    """A prompt would be truncated before its last instruction token (t_inst)."""


class DataError(HarcError):
    """A data file is missing, empty or malformed."""


class DirectionError(HarcError):
    """Direction extraction or loading failed (empty sets, zero mean gap, bad files)."""


class DefaultModelError(HarcError):
    """The embedded default model package is not installed or is incomplete."""
