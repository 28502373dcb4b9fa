"""Labelled (goal, response) samples for measuring and training judges.

Three formats, detected from the file:

* ``jbb``: JailbreakBench attack artifacts (``jbb_judge_labels.jsonl``): ``harmful`` =
  ``jailbroken`` as JailbreakBench's own judge gave it; grouped by ``behavior_index``.
* ``xstest``: XSTest v2 completions with human labels (CSV with ``final_label``): ``refused``
  = full or partial refusal (XSTest counts both as refusal); grouped by prompt.
* ``gold``: harc's hand-labelled answers of the embedded model (``harc/data/gold``): ``label``
  one of harmful / partial / refusal / nonsense (see its RUBRIC.md); ``harmful`` = label is
  harmful, ``refused`` = label is refusal; grouped by goal.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from harc.data.readers import read_jsonl
from harc.errors import DataError

LabelKind = Literal["jbb", "xstest", "gold"]
GOLD_LABELS = ("harmful", "partial", "refusal", "nonsense")
XSTEST_REFUSALS = ("2_full_refusal", "3_partial_refusal")


@dataclass(frozen=True)
class LabelledSample:
    """One judged answer. ``harmful``/``refused`` are None where the set does not label them;
    ``group`` keeps cross-validation folds apart (a behaviour, a prompt or a goal)."""

    goal: str
    prompt: str
    response: str
    harmful: bool | None
    refused: bool | None
    group: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelSet:
    kind: LabelKind
    source: str
    samples: list[LabelledSample]

    @property
    def compared(self) -> Literal["harmful", "refused"]:
        """The verdict field this set labels (``xstest``: refusal; the others: harm)."""
        return "refused" if self.kind == "xstest" else "harmful"

    def digest(self) -> str:
        text = json.dumps([[s.goal, s.response, s.harmful, s.refused] for s in self.samples])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def gold_path() -> Path:
    return Path(str(resources.files("harc.data").joinpath("gold", "gold_labels.jsonl")))


def _need(row: dict[str, Any], keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}")


def _jbb(path: Path, rows: list[dict[str, Any]]) -> list[LabelledSample]:
    out = []
    for number, row in enumerate(rows, 1):
        _need(row, ("behavior_index", "goal", "prompt", "response", "jailbroken"),
              f"{path} record {number}")
        if not isinstance(row["jailbroken"], bool):
            raise DataError(f"{path} record {number}: jailbroken must be true or false")
        attributes = {k: row[k] for k in ("attack", "target_model", "category") if k in row}
        out.append(LabelledSample(row["goal"], row["prompt"], row["response"],
                                  row["jailbroken"], None, f"jbb:{row['behavior_index']}",
                                  attributes))
    return out


def _gold(path: Path, rows: list[dict[str, Any]]) -> list[LabelledSample]:
    out = []
    for number, row in enumerate(rows, 1):
        _need(row, ("goal", "prompt", "response", "label"), f"{path} record {number}")
        if row["label"] not in GOLD_LABELS:
            raise DataError(f"{path} record {number}: label {row['label']!r} is not one of "
                            f"{', '.join(GOLD_LABELS)}")
        attributes = {k: row[k] for k in ("attack", "model", "category", "id") if k in row}
        out.append(LabelledSample(row["goal"], row["prompt"], row["response"],
                                  row["label"] == "harmful", row["label"] == "refusal",
                                  f"gold:{row['goal']}", {**attributes, "label": row["label"]}))
    return out


def _xstest(path: Path) -> list[LabelledSample]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for number, row in enumerate(rows, 2):
        _need(row, ("prompt", "completion", "final_label"), f"{path}:{number}")
        label = row["final_label"]
        if label not in ("1_full_compliance", *XSTEST_REFUSALS):
            raise DataError(f"{path}:{number}: unknown final_label {label!r}")
        kind = row.get("type", "")
        attributes = {"type": kind, "prompt_safety": "unsafe" if kind.startswith("contrast_")
                      else "safe", "label": label}
        out.append(LabelledSample(row["prompt"], row["prompt"], row["completion"] or "", None,
                                  label in XSTEST_REFUSALS, f"xstest:{row.get('id', number)}",
                                  attributes))
    return out


def load_labels(path: str | Path | None = None, kind: LabelKind | None = None) -> LabelSet:
    """A labelled file, its format detected (or given as ``kind``). ``None``: the gold set."""
    target = Path(path).expanduser() if path is not None else gold_path()
    if not target.is_file():
        raise DataError(f"{target}: no such labelled file")
    if kind is None:
        kind = "xstest" if target.suffix == ".csv" else None
    if kind == "xstest":
        samples = _xstest(target)
    else:
        rows = [row.data for row in read_jsonl(target)]
        if not rows:
            raise DataError(f"{target}: no records")
        detected: LabelKind = "jbb" if "jailbroken" in rows[0] else "gold"
        kind = kind or detected
        samples = _jbb(target, rows) if kind == "jbb" else _gold(target, rows)
    if not samples:
        raise DataError(f"{target}: no records")
    return LabelSet(kind, str(target), samples)
