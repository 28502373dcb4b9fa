"""Where attack data files live: a ``data_root`` argument, else ``$HARC_DATA``, else none
(:func:`harc.data.root.resolve_data_root`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from harc.data.root import DATA_ENV, resolve_data_root
from harc.errors import DataError

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def find_data_file(
    relative: str,
    *,
    path: PathLike | None = None,
    data_root: PathLike | None = None,
    required: bool = False,
) -> Path | None:
    """An explicit ``path`` must exist. Otherwise ``relative`` is looked up under the data root;
    a miss there returns None (callers use their built-in fallback) unless ``required``."""
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            raise DataError(f"data file not found: {explicit}")
        return explicit
    root, _ = resolve_data_root(data_root)
    candidate = root / relative if root is not None else None
    if candidate is not None and candidate.is_file():
        return candidate
    if required:
        where = (
            f"under {root}"
            if root is not None
            else f"(no data root: pass data_root or set ${DATA_ENV})"
        )
        raise DataError(f"required data file {relative} not found {where}")
    if candidate is not None:
        logger.warning("%s not found; using the built-in fallback", candidate)
    return None
