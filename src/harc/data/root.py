"""Where data files live: one rule for every command and library call."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "HARC_DATA"
DEFAULT_DATA_DIR = Path("..") / "shared" / "data"


def resolve_data_root(
    given: str | os.PathLike[str] | None = None, *, search_default: bool = False
) -> tuple[Path | None, str]:
    """The data root and where it came from: ``given``, else ``$HARC_DATA``, else (with
    ``search_default``, as the CLI does) ``../shared/data`` relative to the current directory
    when it exists, else None (callers use their built-in fallback sets)."""
    if given is not None:
        return Path(given).expanduser(), "--data-root"
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser(), f"${DATA_ENV}"
    default = Path.cwd() / DEFAULT_DATA_DIR
    if search_default and default.is_dir():
        return default.resolve(), f"default {DEFAULT_DATA_DIR} (relative to the current directory)"
    return None, "none found: built-in fallback sets only"
