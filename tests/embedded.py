"""Tests that need the embedded default model (installed from PyPI chunk packages): mark them
with ``needs_default_model`` so they skip, saying how to install it, where it is absent."""

from __future__ import annotations

import pytest

from harc.errors import DefaultModelError
from harc.models.default import DEFAULT_MODEL, chunk_paths


def default_model_installed() -> bool:
    try:
        chunk_paths(DEFAULT_MODEL)
    except DefaultModelError:
        return False
    return True


needs_default_model = pytest.mark.skipif(
    not default_model_installed(),
    reason=f"default model packages not installed ({DEFAULT_MODEL.install_command()})")
