"""Loaders for the Circuit Breakers (Zou et al. 2024) file formats.

The training file is a JSON array of objects with ``prompt``, ``output`` (the harmful,
complying answer), a refusal under ``llama3_output`` or ``refusal``, and ``category``.
The evaluation files are ``{name, description, data: [{behavior, context?, ...}]}``.
"""

from __future__ import annotations

from harc.data.loaders import PathLike, finish
from harc.data.readers import (
    check_file,
    empty_error,
    json_rows,
    optional_field,
    read_json,
    require_columns,
    text_field,
)
from harc.data.records import CircuitBreakersRecord, Loaded, Prompt
from harc.errors import DataError

REFUSAL_KEYS: tuple[str, ...] = ("refusal", "llama3_output")


def load_circuit_breakers(path: PathLike) -> Loaded[CircuitBreakersRecord]:
    """A Circuit-Breakers-style training JSON (array, or JSON Lines) of prompt/answer records.

    ``refusal`` is read from the ``refusal`` key, else from ``llama3_output``. A file with
    neither an ``output`` nor a refusal key in any row is rejected: it is not this format.
    """
    p = check_file(path)
    data = read_json(p)
    rows = json_rows(p, data if isinstance(data, list) else [data])
    if not rows:
        raise empty_error(p, "Circuit Breakers records")
    require_columns(p, rows, ["prompt"])
    answer_keys = ("output", *REFUSAL_KEYS)
    if not any(k in r.data for r in rows for k in answer_keys):
        raise DataError(f"{p}: no row has any of the answer columns {', '.join(answer_keys)}")
    records: list[CircuitBreakersRecord] = []
    for r in rows:
        refusal_key = next((k for k in REFUSAL_KEYS if r.data.get(k) is not None), None)
        records.append(CircuitBreakersRecord(
            prompt=text_field(p, r, "prompt"),
            output=optional_field(p, r, "output"),
            refusal=optional_field(p, r, refusal_key),
            category=optional_field(p, r, "category"),
            source="circuit_breakers",
        ))
    return Loaded(records)


def load_circuit_breakers_eval(path: PathLike, drop_contextual: bool = True) -> Loaded[Prompt]:
    """Circuit Breakers' HarmBench eval JSON: {name, description, data: [{behavior, ...}]}.

    Items with a non-empty ``context`` are dropped (and counted) by default, as in
    :func:`load_harmbench`.
    """
    p = check_file(path)
    doc = read_json(p)
    if not isinstance(doc, dict) or "data" not in doc:
        raise DataError(f"{p}: expected a JSON object with a 'data' array")
    rows = json_rows(p, doc["data"])
    require_columns(p, rows, ["behavior"])
    dropped = {"contextual": 0}
    items: list[Prompt] = []
    for r in rows:
        behavior = text_field(p, r, "behavior")
        context = optional_field(p, r, "context")
        if context:
            if drop_contextual:
                dropped["contextual"] += 1
                continue
            behavior = f"{context}\n\n---\n\n{behavior}"
        items.append(Prompt(behavior, "circuit_breakers", optional_field(p, r, "category")))
    return finish(p, items, dropped)
