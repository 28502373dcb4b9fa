"""Self-supplied answers on disk: the per-model JSON Lines cache, its keys and the provenance file.

Every outcome is cached under ``cache_subdir("supply")``, one file per model key, one record
per (kind, model key, judge, settings, prompt) with its provenance and judge verdict, so a
rerun generates nothing. :data:`PROVENANCE_FILE` is where a run's records are written to an
output directory.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harc.io import atomic_path, sha256_text
from harc.judges import Verdict
from harc.positions import ChatFormat

PROVENANCE_FILE = "supplied_answers.jsonl"
FORMAT_VERSION = 1


class SupplyCache:
    """The cached records of one model key, read once from
    ``cache_dir / <sha256(model_key)[:16]>.jsonl`` and appended to."""

    def __init__(self, cache_dir: Path, model_key: str) -> None:
        name = sha256_text(model_key)[:16]
        self.path = Path(cache_dir) / f"{name}.jsonl"
        self._records: dict[str, dict[str, Any]] | None = None

    def load(self) -> dict[str, dict[str, Any]]:
        """Every readable record by key; unreadable lines are skipped with a warning."""
        if self._records is None:
            self._records = {}
            if self.path.is_file():
                lines = self.path.read_text(encoding="utf-8").splitlines()
                for number, line in enumerate(lines, 1):
                    try:
                        record = json.loads(line)
                        self._records[record["key"]] = record
                    except (ValueError, KeyError, TypeError):
                        warnings.warn(f"{self.path}, line {number}: unreadable supply record "
                                      "skipped", stacklevel=2)
        return self._records

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append ``records`` to the file and to the loaded records."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        self.load().update({r["key"]: r for r in records})


def write_records(out_dir: str | Path, records: Sequence[dict[str, Any]]) -> Path:
    """Write ``records`` to ``out_dir / PROVENANCE_FILE`` (atomically); return its path."""
    target = Path(out_dir) / PROVENANCE_FILE
    with atomic_path(target) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                       encoding="utf-8")
    return target


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    """A judge verdict as a cache record stores it."""
    return {"refused": verdict.refused, "harmful": verdict.harmful, "score": verdict.score,
            "judge": verdict.judge, "rationale": verdict.rationale}


def record_settings(max_new_tokens: int, chat: ChatFormat,
                    extra: dict[str, Any]) -> dict[str, Any]:
    """The generation settings a record is keyed on (greedy, the chat template's digest, the
    record format's version and ``extra``)."""
    return {"max_new_tokens": max_new_tokens, "do_sample": False,
            "chat_template": sha256_text(chat.prefix + "\x00" + chat.suffix)[:16],
            "format_version": FORMAT_VERSION, **extra}


def record_key(kind: str, model_key: str, judge: str, settings: dict[str, Any],
               prompt: str) -> str:
    """The cache key of one supplied answer."""
    payload = json.dumps([kind, model_key, judge, settings, prompt], sort_keys=True,
                         ensure_ascii=False)
    return sha256_text(payload)
