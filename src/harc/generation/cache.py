"""On-disk cache of generations: one small JSON file per generated batch.

An entry's key is the sha256 of ``(model_key, formatted prompt, settings minus batch_size)``.
Files are grouped in a folder per ``(model_key, settings)`` so a run reads only the batches
that could match. Each batch file is written atomically; a file that cannot be read is
skipped with a warning (its prompts are simply generated again).

``model_key`` names the weights: it must change whenever the weights change (e.g. model name
plus a hash of a LoRA adapter), otherwise stale generations are returned.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harc.io import sha256_text, write_json_atomic

FORMAT_VERSION = 1


def _digest(*parts: Any) -> str:
    return sha256_text(json.dumps(parts, sort_keys=True, ensure_ascii=False))


class GenerationCache:
    """Maps formatted prompt texts to generated texts for one model and one set of settings."""

    def __init__(self, root: Path, model_key: str, settings: Mapping[str, Any]) -> None:
        self.model_key = model_key
        self.settings = dict(settings)
        self.directory = Path(root) / _digest(model_key, self.settings)[:24]
        self._entries: dict[str, str] | None = None

    def key(self, text: str) -> str:
        return _digest(self.model_key, text, self.settings)

    def get(self, text: str) -> str | None:
        return self._load().get(self.key(text))

    def put_many(self, texts: list[str], outputs: list[str]) -> None:
        entries = {self.key(text): output for text, output in zip(texts, outputs, strict=True)}
        if not entries:
            return
        record = {
            "version": FORMAT_VERSION,
            "model_key": self.model_key,
            "settings": self.settings,
            "entries": entries,
        }
        write_json_atomic(self.directory / f"{_digest(sorted(entries))[:24]}.json", record)
        self._load().update(entries)

    def _load(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = {}
            if self.directory.is_dir():
                for path in sorted(self.directory.glob("*.json")):
                    self._entries.update(_read_batch(path))
        return self._entries


def _read_batch(path: Path) -> dict[str, str]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        entries = record["entries"]
        if record.get("version") != FORMAT_VERSION or not isinstance(entries, dict):
            raise ValueError("unexpected layout")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"ignoring unreadable generation cache file {path}: {exc}", stacklevel=3)
        return {}
    return {key: value for key, value in entries.items() if isinstance(value, str)}
