"""Where harc keeps caches: ``$HARC_CACHE`` or ``~/.cache/harc``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    root = os.environ.get("HARC_CACHE")
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "harc"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_subdir(name: str) -> Path:
    path = cache_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
