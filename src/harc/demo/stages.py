"""Resumable pipeline stages with one progress display.

Each stage writes into ``OUT/<name>/`` and is complete once ``OUT/<name>/stage.json`` exists
(written last, atomically) with the stage's fingerprint: a hash of everything it depends on
(model, budget, upstream fingerprints). A rerun skips complete stages whose fingerprint
matches; a stage whose inputs changed is cleared and rerun, and so is everything downstream
(their fingerprints include its). An interrupted stage has no ``stage.json`` and reruns; the
training stage resumes from its last checkpoint and the evaluation stages from their cached
sections.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from harc import jobs
from harc.errors import HarcError

logger = logging.getLogger(__name__)

STAGE_FILE = "stage.json"
INPUT_FILE = "stage_input.json"  # written when a stage starts: resume only the same inputs


def fingerprint(*parts: Any) -> str:
    """The stage's inputs (:func:`harc.jobs.fingerprint`), short enough to read in stage.json."""
    return jobs.fingerprint(*parts)[:16]


@dataclass
class StageRecord:
    name: str
    title: str
    fingerprint: str
    seconds: float
    skipped: bool = False
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("skipped")
        return data


class StageRunner:
    """``runner.run(name, title, fn, depends)`` runs ``fn(stage_dir) -> summary`` unless the
    stage is already complete with the same fingerprint."""

    def __init__(self, out_dir: Path, total: int, *, progress: bool = True,
                 console: Console | None = None) -> None:
        self.out = out_dir
        self.total = total
        self.progress = progress
        self.console = console or Console(stderr=True)
        self.records: dict[str, StageRecord] = {}
        self.started = time.perf_counter()

    def run(self, name: str, title: str, fn: Callable[[Path], dict[str, Any]],
            depends: Any = None) -> StageRecord:
        if name in self.records:
            raise HarcError(f"stage {name!r} ran twice")
        folder = self.out / name
        wanted = fingerprint(name, depends)
        index = len(self.records) + 1
        done = self._complete(folder, wanted)
        if done is not None:
            done.skipped = True
            self.records[name] = done
            self._say(f"[{index}/{self.total}] {title}: done earlier ({done.seconds:.0f} s), "
                      "skipped")
            return done
        if folder.is_dir() and self._started_with(folder) != wanted:
            logger.warning("%s was made with other inputs; clearing it and running again",
                           folder)
            shutil.rmtree(folder)
        self._rule(f"[{index}/{self.total}] {title}")
        folder.mkdir(parents=True, exist_ok=True)
        jobs.save_record(folder / INPUT_FILE, {"fingerprint": wanted})
        started = time.perf_counter()
        summary = fn(folder)
        record = StageRecord(name, title, wanted, round(time.perf_counter() - started, 1),
                             summary=summary or {})
        jobs.save_record(folder / STAGE_FILE, record.to_dict())
        self.records[name] = record
        self._say(f"[{index}/{self.total}] {title}: {record.seconds:.0f} s "
                  f"(pipeline {time.perf_counter() - self.started:.0f} s)")
        return record

    def _complete(self, folder: Path, wanted: str) -> StageRecord | None:
        data = jobs.load_record(folder / STAGE_FILE, wanted)
        if data is None:
            return None
        try:
            return StageRecord(**data)
        except TypeError as error:
            logger.warning("%s unreadable (%s); running the stage again", folder / STAGE_FILE,
                           error)
            return None

    @staticmethod
    def _started_with(folder: Path) -> str | None:
        record = jobs.load_record(folder / INPUT_FILE)
        return None if record is None else record.get("fingerprint")

    def _rule(self, text: str) -> None:
        if self.progress:
            self.console.rule(text)

    def _say(self, text: str) -> None:
        if self.progress:
            self.console.print(text)
        logger.debug(text)
