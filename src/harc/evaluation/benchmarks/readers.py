"""File readers for benchmark data; every problem is a DataError naming the file and row."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

from harc.errors import DataError

Row = tuple[str, dict[str, Any]]


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    return text


def read_jsonl(path: Path) -> list[Row]:
    """Objects of a JSON Lines file (``.gz`` allowed), labelled ``line N``."""
    rows: list[Row] = []
    for number, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, {where}: invalid JSON ({exc.msg})") from exc
        if not isinstance(data, dict):
            raise DataError(f"{path}, {where}: expected a JSON object, got {type(data).__name__}")
        rows.append((where, data))
    return rows


def read_json_list(path: Path) -> list[Row]:
    """Objects of a JSON array, labelled ``item I`` (0-based)."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array, got {type(data).__name__}")
    rows: list[Row] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise DataError(f"{path}, item {index}: expected a JSON object")
        rows.append((f"item {index}", item))
    return rows


def read_csv(path: Path) -> list[Row]:
    """Rows of a CSV file with a header, labelled ``row N`` (data rows from 1)."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the CSV header ({exc})") from exc
    rows: list[Row] = []
    try:
        for fields in reader:
            if not any(value.strip() for value in fields):
                continue
            where = f"row {len(rows) + 1}"
            if len(fields) != len(header):
                raise DataError(
                    f"{path}, {where}: {len(fields)} fields but the header has {len(header)}"
                )
            rows.append((where, dict(zip(header, fields, strict=True))))
    except csv.Error as exc:
        raise DataError(f"{path}, row {len(rows) + 1}: malformed CSV ({exc})") from exc
    return rows


def read_table(path: Path) -> list[Row]:
    """CSV, JSON Lines or a JSON array, chosen by the file extension."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return read_csv(path)
    if name.endswith(".jsonl"):
        return read_jsonl(path)
    if name.endswith(".json"):
        text = read_text(path).lstrip()
        return read_json_list(path) if text.startswith("[") else read_jsonl(path)
    raise DataError(f"{path}: unsupported file type (expected .csv, .jsonl or .json)")


def take(path: Path, where: str, row: dict[str, Any], key: str, kind: type = str) -> Any:
    """``row[key]``, required to exist, be of ``kind`` and (for strings) be non-blank."""
    if key not in row:
        raise DataError(f"{path}, {where}: missing field {key!r}")
    value = row[key]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{path}, {where}: field {key!r} must be a non-empty {kind.__name__}")
    return value


def require(rows: list[Row], path: Path) -> list[Row]:
    if not rows:
        raise DataError(f"{path}: no data rows")
    return rows
