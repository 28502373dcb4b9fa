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


def invalid_settings(what: str, error: Exception) -> HarcError:
    """One line for a pydantic ``ValidationError``: every problem as ``field.path: message
    (got value)``, so a bad YAML key or value is named where it is."""
    problems = []
    for item in getattr(error, "errors", lambda: [])():
        where = ".".join(str(part) for part in item.get("loc", ())) or "(top level)"
        message = item.get("msg", "invalid")
        if item.get("type") == "int_parsing":  # the wording of Python's own int()
            message = "invalid literal for an integer"
        got = item.get("input")
        shown = "" if item.get("type") in ("missing", "extra_forbidden") else f" (got {got!r})"
        problems.append(f"{where}: {message}{shown}")
    return HarcError(f"{what}: {'; '.join(problems) or error}")
