"""Low-level readers: CSV, JSON, JSON Lines and text files as rows, with located errors.

Every row comes with a ``where`` label used in error messages: ``"row N (line L)"`` for CSV
(N counts data rows from 1, L is the line the record starts on), ``"line L"`` for JSON Lines
and text files, ``"item I"`` (0-based) for JSON arrays.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harc.errors import DataError


@dataclass(frozen=True, slots=True)
class Row:
    where: str
    data: dict[str, Any]


def check_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path; raise DataError if it is missing, not a file, or empty."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if not p.is_file():
        raise DataError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty")
    return p


def read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    return text


def read_lines(path: Path) -> list[tuple[str, str]]:
    """Non-blank lines of a text file, stripped, with their ``line L`` labels."""
    lines = read_text(path).split("\n")
    return [(f"line {i}", ln.strip()) for i, ln in enumerate(lines, 1) if ln.strip()]


def read_csv(path: Path) -> tuple[list[str], list[Row]]:
    """Header and rows of a CSV file; rows with more fields than the header are malformed."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the CSV header ({exc})") from exc
    header = [h.strip() for h in header]
    if not any(header):
        raise DataError(f"{path}: the CSV header is blank")
    rows: list[Row] = []
    n = 0
    start = reader.line_num + 1
    try:
        for fields in reader:
            if not fields or not any(f.strip() for f in fields):
                start = reader.line_num + 1
                continue
            n += 1
            where = f"row {n} (line {start})"
            if len(fields) > len(header):
                raise DataError(
                    f"{path}, {where}: {len(fields)} fields but the header has {len(header)}"
                )
            padded = fields + [None] * (len(header) - len(fields))
            rows.append(Row(where, dict(zip(header, padded, strict=True))))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from exc
    return header, rows


def read_jsonl(path: Path, text: str | None = None) -> list[Row]:
    """Objects of a JSON Lines file, one per non-blank line."""
    rows: list[Row] = []
    lines = (read_text(path) if text is None else text).split("\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {i}: malformed JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise DataError(f"{path}, line {i}: expected a JSON object, got {type(obj).__name__}")
        rows.append(Row(f"line {i}", obj))
    return rows


def read_json(path: Path) -> Any:
    """A JSON document; a file that is really JSON Lines comes back as a list of objects."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip().startswith("{"):
            return [row.data for row in read_jsonl(path, text)]
        line = text.count("\n", 0, exc.pos) + 1
        raise DataError(f"{path}, line {line}: malformed JSON ({exc.msg})") from exc


def json_rows(path: Path, data: Any) -> list[Row]:
    """The objects of a JSON array, labelled ``item I``."""
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of objects, got {type(data).__name__}")
    rows: list[Row] = []
    for i, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise DataError(f"{path}, item {i}: expected a JSON object, got {type(obj).__name__}")
        rows.append(Row(f"item {i}", obj))
    return rows


def read_table(path: Path) -> list[Row]:
    """Rows of a .csv, .jsonl or .json (array of objects, or JSON Lines) file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path)[1]
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix == ".json":
        return json_rows(path, read_json(path))
    raise DataError(f"{path}: unsupported table format {suffix or '(no extension)'!r}; "
                    "expected .csv, .jsonl or .json")


def require_columns(path: Path, rows: list[Row], columns: list[str]) -> None:
    """Raise DataError naming the first row that lacks one of ``columns``."""
    for row in rows:
        missing = [c for c in columns if c not in row.data]
        if missing:
            have = ", ".join(map(str, row.data)) or "none"
            raise DataError(f"{path}, {row.where}: missing column(s) {', '.join(missing)} "
                            f"(has: {have})")


def text_field(path: Path, row: Row, key: str) -> str:
    """A required non-empty string field, stripped."""
    if key not in row.data:
        raise DataError(f"{path}, {row.where}: missing column {key!r}")
    value = row.data[key]
    if not isinstance(value, str):
        kind = "missing value" if value is None else f"a {type(value).__name__}, not a string"
        raise DataError(f"{path}, {row.where}: {key!r} is {kind}")
    if not value.strip():
        raise DataError(f"{path}, {row.where}: {key!r} is empty")
    return value.strip()


def optional_field(path: Path, row: Row, key: str | None) -> str | None:
    """An optional string field: None when absent, null or blank."""
    if key is None:
        return None
    value = row.data.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DataError(f"{path}, {row.where}: {key!r} is a {type(value).__name__}, "
                        "not a string")
    return value.strip() or None


def empty_error(path: Path, what: str, dropped: dict[str, int] | None = None) -> DataError:
    detail = ""
    if dropped and any(dropped.values()):
        detail = " (dropped: " + ", ".join(f"{n} {r}" for r, n in dropped.items() if n) + ")"
    return DataError(f"{path}: no {what} loaded{detail}")
