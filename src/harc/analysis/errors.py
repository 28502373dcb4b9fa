"""The error raised when an analysis input cannot give a meaningful answer."""

from __future__ import annotations

from harc.errors import HarcError


class AnalysisError(HarcError):
    """Degenerate or inconsistent analysis input: one class, a zero mean gap, empty sets."""
