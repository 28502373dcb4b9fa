"""Generic CSV / JSON Lines / JSON tables with a caller-given column mapping."""

from __future__ import annotations

from pathlib import Path
from typing import overload

from harc.data.loaders import PathLike, finish
from harc.data.readers import (
    check_file,
    empty_error,
    optional_field,
    read_table,
    require_columns,
    text_field,
)
from harc.data.records import PAIR_KINDS, Loaded, Pair, Prompt
from harc.errors import DataError


@overload
def load_table(path: PathLike, text_column: str = "prompt", category_column: str | None = None,
               response_column: None = None, *, kind: str | None = None,
               kind_column: str | None = None, id_column: str | None = None,
               source: str | None = None) -> Loaded[Prompt]: ...


@overload
def load_table(path: PathLike, text_column: str = "prompt", category_column: str | None = None,
               *, response_column: str, kind: str | None = None,
               kind_column: str | None = None, id_column: str | None = None,
               source: str | None = None) -> Loaded[Pair]: ...


def load_table(path: PathLike, text_column: str = "prompt", category_column: str | None = None,
               response_column: str | None = None, *, kind: str | None = None,
               kind_column: str | None = None, id_column: str | None = None,
               source: str | None = None) -> Loaded[Prompt] | Loaded[Pair]:
    """Load a .csv, .jsonl or .json (array of objects, or JSON Lines) file by column names.

    Without ``response_column`` it returns prompts from ``text_column`` (with optional
    ``category_column`` and ``id_column``). With ``response_column`` it returns pairs, whose
    kind comes from ``kind_column`` per row or from the fixed ``kind`` (exactly one of them).
    ``source`` defaults to the file's stem.
    """
    p = check_file(path)
    src = source or p.stem
    rows = read_table(p)
    if not rows:
        raise empty_error(p, "rows")
    if response_column is None:
        if kind is not None or kind_column is not None:
            raise DataError(f"{p}: kind/kind_column only apply with a response_column")
        require_columns(p, rows, [text_column])
        return finish(p, [
            Prompt(text_field(p, r, text_column), src, optional_field(p, r, category_column),
                   optional_field(p, r, id_column))
            for r in rows
        ])
    if (kind is None) == (kind_column is None):
        raise DataError(f"{p}: pairs need exactly one of kind (fixed) or kind_column")
    if kind is not None and kind not in PAIR_KINDS:
        raise DataError(f"{p}: pair kind {kind!r} is not one of {', '.join(PAIR_KINDS)}")
    columns = [text_column, response_column, *([kind_column] if kind_column else [])]
    require_columns(p, rows, columns)
    pairs: list[Pair] = []
    for r in rows:
        row_kind = kind if kind is not None else text_field(p, r, str(kind_column))
        if row_kind not in PAIR_KINDS:
            raise DataError(f"{p}, {r.where}: kind {row_kind!r} is not one of "
                            f"{', '.join(PAIR_KINDS)}")
        pairs.append(Pair(text_field(p, r, text_column), text_field(p, r, response_column),
                          src, row_kind))
    return Loaded(pairs)


def load_pairs(path: PathLike, source: str | None = None) -> Loaded[Pair]:
    """(prompt, response, kind) pairs from a .jsonl, .csv or .json file with those columns."""
    return load_table(Path(path), "prompt", response_column="response", kind_column="kind",
                      source=source)
