"""The resumable-job primitive every long command uses: a job's inputs hashed into a
fingerprint, its outputs written atomically, and a record file (JSON, written last) that
says the work is done and with which inputs. A rerun reuses a record whose fingerprint
matches and redoes the work otherwise; an unreadable record counts as missing.

Users: evaluation sections (``evaluation.runner``), demo stages (``demo.stages``) and the
methods ``harc compare`` builds (``methods.compare``). The generation and answer caches are
per-item caches (``generation.cache``, ``training.supply``), keyed by the same kind of digest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from harc.io import write_json_atomic

logger = logging.getLogger(__name__)


def fingerprint(*parts: Any) -> str:
    """sha256 (hex) of the inputs as canonical JSON (``str`` for what JSON cannot hold)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_record(path: str | os.PathLike[str], wanted: str | None = None
                ) -> dict[str, Any] | None:
    """The record at ``path``; None when it is missing, unreadable (with a warning) or, with
    ``wanted``, made from other inputs (its ``fingerprint`` differs)."""
    file = Path(path)
    if not file.is_file():
        return None
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        logger.warning("%s: unreadable (%s); doing the work again", file, error)
        return None
    if not isinstance(record, dict):
        logger.warning("%s: not a record; doing the work again", file)
        return None
    if wanted is not None and record.get("fingerprint") != wanted:
        return None
    return record


def save_record(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Write the record atomically: it exists whole or not at all."""
    write_json_atomic(path, record)
