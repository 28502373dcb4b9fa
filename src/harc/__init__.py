"""harc: Harmfulness-And-Refusal Coupling for chat models (arXiv 2607.00572)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
