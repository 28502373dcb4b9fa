"""Loaders for the published prompt sets, each in its original file format.

Every loader takes a path, returns a :class:`~harc.data.records.Loaded` list of
:class:`~harc.data.records.Prompt` and raises :class:`~harc.errors.DataError` on a missing or
empty file, a malformed row or a missing column (the message names the file and row), and when
nothing is left to return. Prompt texts are stripped of surrounding whitespace. Rows left out on
purpose (e.g. contextual HarmBench behaviours) are counted in ``Loaded.dropped`` and logged as a
warning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

from harc.data.readers import (
    Row,
    check_file,
    empty_error,
    json_rows,
    optional_field,
    read_csv,
    read_json,
    read_jsonl,
    read_lines,
    require_columns,
    text_field,
)
from harc.data.records import Loaded, Prompt
from harc.errors import DataError

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def finish(path: Path, items: list[Prompt], dropped: dict[str, int] | None = None,
           what: str = "prompts") -> Loaded[Prompt]:
    """Wrap ``items`` as Loaded, logging any drops; raise DataError if nothing is left."""
    dropped = dropped or {}
    if not items:
        raise empty_error(path, what, dropped)
    result = Loaded(items, dropped)
    if result.dropped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in result.dropped.items())
        logger.warning("%s: kept %d %s, dropped %s", path, len(result), what, reasons)
    return result


def _csv_rows(path: Path, columns: list[str]) -> list[Row]:
    header, rows = read_csv(path)
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(header: {', '.join(header)})")
    return rows


def load_advbench(path: PathLike) -> Loaded[Prompt]:
    """AdvBench ``harmful_behaviors.csv`` (columns goal, target); the goal is the prompt."""
    p = check_file(path)
    rows = _csv_rows(p, ["goal"])
    return finish(p, [Prompt(text_field(p, r, "goal"), "advbench") for r in rows])


def load_refusal_direction(path: PathLike) -> Loaded[Prompt]:
    """A refusal_direction split or processed file: JSON array of {instruction, category}."""
    p = check_file(path)
    rows = json_rows(p, read_json(p))
    require_columns(p, rows, ["instruction"])
    return finish(p, [
        Prompt(text_field(p, r, "instruction"), "refusal_direction",
               optional_field(p, r, "category"))
        for r in rows
    ])


def load_harmbench(path: PathLike, drop_contextual: bool = True,
                   drop_copyright: bool = False) -> Loaded[Prompt]:
    """A HarmBench behaviours CSV (Behavior, SemanticCategory or Category, ContextString, ...).

    Contextual behaviours (a non-empty ContextString, or FunctionalCategory ``contextual``) are
    dropped by default and counted under ``"contextual"``; kept, their text is HarmBench's
    ``"{context}\\n\\n---\\n\\n{behavior}"``. Copyright behaviours are kept unless
    ``drop_copyright`` (counted under ``"copyright"``). ``id`` is the BehaviorID.
    """
    p = check_file(path)
    header, rows = read_csv(p)
    if "Behavior" not in header:
        raise DataError(f"{p}: missing column Behavior (header: {', '.join(header)})")
    category_col = next((c for c in ("SemanticCategory", "Category") if c in header), None)
    dropped = {"contextual": 0, "copyright": 0}
    items: list[Prompt] = []
    for r in rows:
        behavior = text_field(p, r, "Behavior")
        context = optional_field(p, r, "ContextString")
        functional = optional_field(p, r, "FunctionalCategory")
        if context or functional == "contextual":
            if drop_contextual:
                dropped["contextual"] += 1
                continue
            if not context:
                raise DataError(f"{p}, {r.where}: contextual behaviour with an empty ContextString")
            behavior = f"{context}\n\n---\n\n{behavior}"
        if functional == "copyright" and drop_copyright:
            dropped["copyright"] += 1
            continue
        items.append(Prompt(behavior, "harmbench", optional_field(p, r, category_col),
                            optional_field(p, r, "BehaviorID")))
    return finish(p, items, dropped)


def load_xstest(path: PathLike, label: Literal["safe", "unsafe"] | None = None,
                final_label: str | None = None) -> Loaded[Prompt]:
    """XSTest ``xstest_prompts.csv`` (id, prompt, type, label, ...) or its completions CSV.

    ``label`` keeps only safe or unsafe prompts (None keeps all); in the completions file,
    which has no label column, ``contrast_*`` types are the unsafe ones. ``final_label``
    (completions file only, e.g. ``"1_full_compliance"``) keeps prompts whose reference
    completion got that label. Filtered-out rows are counted in ``dropped``. ``category`` is
    the XSTest type.
    """
    if label not in (None, "safe", "unsafe"):
        raise DataError(f"XSTest label filter must be 'safe', 'unsafe' or None, not {label!r}")
    p = check_file(path)
    header, rows = read_csv(p)
    missing = [c for c in ("prompt", "type") if c not in header]
    if final_label is not None and "final_label" not in header:
        missing.append("final_label")
    if missing:
        raise DataError(f"{p}: missing column(s) {', '.join(missing)} "
                        f"(header: {', '.join(header)})")
    dropped = {"label": 0, "final_label": 0}
    items: list[Prompt] = []
    for r in rows:
        kind = text_field(p, r, "type")
        row_label = (text_field(p, r, "label") if "label" in header
                     else "unsafe" if kind.startswith("contrast") else "safe")
        if row_label not in ("safe", "unsafe"):
            raise DataError(f"{p}, {r.where}: label {row_label!r} is not safe or unsafe")
        if label is not None and row_label != label:
            dropped["label"] += 1
            continue
        if final_label is not None and optional_field(p, r, "final_label") != final_label:
            dropped["final_label"] += 1
            continue
        items.append(Prompt(text_field(p, r, "prompt"), "xstest", kind,
                            optional_field(p, r, "id")))
    return finish(p, items, dropped)


def load_coconot(path: PathLike, category_field: str = "category") -> Loaded[Prompt]:
    """CoCoNot JSONL (id, category, subcategory, prompt, ...).

    ``category_field`` picks the field used as the prompt category (``"subcategory"`` gives
    the finer labels).
    """
    p = check_file(path)
    rows = read_jsonl(p)
    require_columns(p, rows, ["prompt"])
    return finish(p, [
        Prompt(text_field(p, r, "prompt"), "coconot", optional_field(p, r, category_field),
               optional_field(p, r, "id"))
        for r in rows
    ])


def load_alpaca(path: PathLike, inputs: Literal["skip", "join"] = "skip") -> Loaded[Prompt]:
    """Alpaca-style JSON array of {instruction, input, output} (input and output optional).

    Instructions with a non-empty ``input`` are skipped and counted under ``"with_input"`` by
    default, matching the input-free Alpaca sets used for refusal directions;
    ``inputs="join"`` keeps them as ``"{instruction}\\n\\n{input}"``.
    """
    if inputs not in ("skip", "join"):
        raise DataError(f"alpaca inputs must be 'skip' or 'join', not {inputs!r}")
    p = check_file(path)
    rows = json_rows(p, read_json(p))
    require_columns(p, rows, ["instruction"])
    dropped = {"with_input": 0}
    items: list[Prompt] = []
    for r in rows:
        text = text_field(p, r, "instruction")
        extra = optional_field(p, r, "input")
        if extra:
            if inputs == "skip":
                dropped["with_input"] += 1
                continue
            text = f"{text}\n\n{extra}"
        items.append(Prompt(text, "alpaca", optional_field(p, r, "category")))
    return finish(p, items, dropped)


def load_malicious_instruct(path: PathLike) -> Loaded[Prompt]:
    """MaliciousInstruct: a text file with one instruction per line (blank lines ignored)."""
    p = check_file(path)
    return finish(p, [Prompt(text, "malicious_instruct") for _, text in read_lines(p)])


def load_tdc2023(path: PathLike) -> Loaded[Prompt]:
    """TDC 2023 red-teaming behaviours: a JSON array of strings."""
    p = check_file(path)
    data = read_json(p)
    if not isinstance(data, list):
        raise DataError(f"{p}: expected a JSON array of strings, got {type(data).__name__}")
    items: list[Prompt] = []
    for i, value in enumerate(data):
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{p}, item {i}: expected a non-empty string, got {value!r:.60}")
        items.append(Prompt(value.strip(), "tdc2023"))
    return finish(p, items)


def load_bad_q(path: PathLike) -> Loaded[Prompt]:
    """A file from "LLMs Encode Harmfulness and Refusal Separately": JSON Lines (despite the
    .json name) whose ``bad_q`` field is the instruction.

    The category is taken from ``Category`` (CatQA), ``category`` (SORRY-Bench) or ``type``
    (XSTest), whichever is present.
    """
    p = check_file(path)
    data = read_json(p)
    rows = json_rows(p, data if isinstance(data, list) else [data])
    require_columns(p, rows, ["bad_q"])
    items: list[Prompt] = []
    for r in rows:
        key = next((k for k in ("Category", "category", "type") if k in r.data), None)
        items.append(Prompt(text_field(p, r, "bad_q"), "harmfulness_refusal_separately",
                            optional_field(p, r, key), optional_field(p, r, "question_id")))
    return finish(p, items)
