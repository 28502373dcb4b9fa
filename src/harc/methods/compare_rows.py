"""One row of ``harc compare``: its name (``METHOD`` or ``METHOD@PRESET``, checked) and its
record, the row's evaluation with the inputs it was made from, as one gzipped JSON file
(``out_dir/rows/NAME.json.gz``).

A record lets a finished row join a later comparison without being built or evaluated again
(``compare(from_results=...)``, ``harc compare --from-results NAME=FILE``): a comparison of ten
methods takes longer on 2 CPU cores than one working session, and a record of a few hundred
kilobytes outlives the run directory. Reuse is checked, not trusted: the record's method, suite
(its whole definition), model, training data, method config, judges and sample scale must equal
this comparison's, else it is an error naming what differs.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harc.errors import HarcError
from harc.evaluation.results import EvaluationResult
from harc.io import atomic_path
from harc.methods.base import WARNINGS, MethodOutput
from harc.models.devices import machine_description

ROW_FORMAT = "harc-compare-row/1"
BASE = "base"
PAPER = "paper"  # the preset no method defines: its paper defaults
ROWS_DIR = "rows"


@dataclass
class CompareRow:
    method: str
    kind: str  # "none" for the base model, else the MethodOutput kind
    build_seconds: float
    eval_seconds: float
    cached: bool
    result: EvaluationResult
    extra: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    # a read record's ({} where it has none); None: this process's machine
    machine: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "kind": self.kind, "build_seconds": self.build_seconds,
                "eval_seconds": self.eval_seconds, "build_cached": self.cached,
                "mean_asr": self.result.mean_asr,
                "mean_over_refusal": self.result.mean_over_refusal,
                "mean_capability": self.result.mean_capability,
                "results": self.result.files.get("results"), "extra": self.extra}


def evaluation_seconds(result: EvaluationResult) -> float:
    """The seconds its sections took when they were computed: a row resumed from cached
    sections (or one whose MMLU was copied from the base row, 0 s) is not timed as instant."""
    return sum(section.seconds for section in result.sections)


def row_path(out_dir: Path, method: str) -> Path:
    return out_dir / ROWS_DIR / f"{method}.json.gz"


def write_row_record(row: CompareRow, path: Path) -> None:
    """Write ``row`` (its evaluation with every sample, and its inputs) atomically, with the
    machine that computed it (not an input: rows made on other machines are compared)."""
    record = {"format": ROW_FORMAT, "method": row.method, "kind": row.kind,
              "build_seconds": row.build_seconds, "eval_seconds": row.eval_seconds,
              "machine": row.machine if row.machine is not None else machine_description(),
              "extra": row.extra, "inputs": row.inputs, "result": row.result.to_dict()}
    payload = json.dumps(record, default=str).encode("utf-8")
    # mtime=0 and no file name: the same row gives the same bytes
    with (atomic_path(path) as tmp, tmp.open("wb") as raw,
          gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle):
        handle.write(payload)


def read_row_record(path: Path) -> CompareRow:
    """The row recorded in ``path``; a clear error for a missing, corrupt or foreign file."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HarcError(f"{path}: not a readable harc compare row record ({error})") from error
    if not isinstance(record, dict) or record.get("format") != ROW_FORMAT:
        raise HarcError(f"{path}: not a harc compare row record (format "
                        f"{record.get('format') if isinstance(record, dict) else None!r}, "
                        f"expected {ROW_FORMAT!r})")
    try:
        result = EvaluationResult.from_dict(record["result"])
        return CompareRow(str(record["method"]), str(record["kind"]),
                          float(record["build_seconds"]), evaluation_seconds(result),
                          True, result, dict(record.get("extra") or {}),
                          dict(record["inputs"]), dict(record.get("machine") or {}))
    except (KeyError, TypeError, ValueError) as error:
        raise HarcError(f"{path}: incomplete harc compare row record ({error})") from error


def reuse_row(path: Path, method: str, inputs: dict[str, Any],
              ignore: frozenset[str] = frozenset()) -> CompareRow:
    """The recorded row for ``method`` if it was made from exactly ``inputs`` (the keys in
    ``ignore`` not compared: a check before they are known)."""
    row = read_row_record(path)
    if row.method != method:
        raise HarcError(f"{path}: records method {row.method!r}, not {method!r}")
    check_row_inputs(row, path, inputs, ignore)
    return row


def check_row_inputs(row: CompareRow, path: Path, inputs: dict[str, Any],
                     ignore: frozenset[str] = frozenset()) -> None:
    """A one-line error unless ``row`` (read from ``path``) was made from ``inputs``."""
    differ = sorted(key for key in {*inputs, *row.inputs} - ignore
                    if _canonical(inputs.get(key)) != _canonical(row.inputs.get(key)))
    if differ:
        raise HarcError(f"{path}: {row.method} was recorded with another {', '.join(differ)} "
                        "than this comparison's; run it again instead")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def machine_summary(machine: dict[str, Any] | None) -> str:
    """A ``machine_description`` in words; None: this process's machine; {}: not recorded."""
    if machine is None:
        machine = machine_description()
    if not machine:
        return "not recorded"
    if machine.get("cuda"):
        return ", ".join(machine["cuda"])
    kernel = ("native bf16" if machine.get("cpu_native_bf16") else
              "bf16 matmuls in float32" if machine.get("bf16_matmuls_in_float32") else
              "no native bf16")
    return f"{machine.get('cpu') or 'unknown CPU'} ({kernel})"


def _minutes(seconds: float) -> str:
    if seconds <= 0:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def row_extra(output: MethodOutput | None) -> dict[str, Any]:
    """What a row keeps of its method's ``extra``: a wrapper's all of it (its calibration), a
    trained method's end-of-training warnings (its config is in the row's inputs already)."""
    if output is None:
        return {}
    if output.kind == "wrapper":
        return dict(output.extra)
    return {WARNINGS: list(output.extra[WARNINGS])} if output.extra.get(WARNINGS) else {}


def render_build_warnings(rows: list[CompareRow]) -> str:
    """Markdown: what each row's method warned of at the end of its build (``extra``)."""
    found = [(row.method, text) for row in rows for text in row.extra.get(WARNINGS, [])]
    lines = ["Build warnings (the methods' end-of-training checks; rows recorded before the "
             "checks existed carry none): " + ("none." if not found else "")]
    lines += [f"- **{method}**: {text}" for method, text in found]
    return "\n".join(lines)


def render_wall_times(rows: list[CompareRow]) -> str:
    """Markdown: each row's build and evaluation time and the machine that computed it."""
    lines = ["Wall time per row, pauses included (build: the method's training or "
             "construction time, carried across resumes; evaluation: the sum of its sections' "
             "times when they were computed; the machine that computed the row):", "",
             "| Method | build | evaluation | machine |", "|:---|---:|---:|:---|"]
    lines += [f"| {row.method} | {_minutes(row.build_seconds)} | {_minutes(row.eval_seconds)} "
              f"| {machine_summary(row.machine)} |" for row in rows]
    return "\n".join(lines)


def _registry() -> None:
    """Import every method module so the registry is complete."""
    import harc.methods  # noqa: F401  (its __init__ imports every method module)


def row_method(name: str, preset: str | None = None) -> tuple[str, str | None]:
    """A row's method and preset: ``METHOD@PRESET`` names a second row of a method built with
    its own preset (``@paper``: the paper defaults), e.g. ``circuit_breakers@paper`` beside
    ``circuit_breakers``; a plain ``METHOD`` takes the comparison's ``preset``."""
    method, at, own = name.partition("@")
    return (method, own) if at else (name, preset)


def check_methods(methods: Sequence[str]) -> list[str]:
    """The row names, checked: known methods, presets they define (or ``paper``), no repeats."""
    from harc.methods.registry import available_methods

    _registry()
    names = [m.strip() for m in methods if m.strip()]
    unknown = [m for m in names if m != BASE and row_method(m)[0] not in available_methods()]
    if unknown:
        raise HarcError(f"unknown methods {unknown}; available: "
                        f"{', '.join([BASE, *available_methods()])}")
    for name in names:
        if name != BASE:
            config_preset(name)
    if len(set(names)) != len(names):
        raise HarcError(f"a method is listed twice: {names}")
    return names


def config_preset(name: str, preset: str | None = None) -> tuple[str, str | None]:
    """Row ``name``'s method and the preset its config is built with (None: the paper
    defaults). A plain method takes the comparison's ``preset`` where it defines one; an
    explicit ``METHOD@PRESET`` must name a preset the method defines, or ``paper``."""
    from harc.methods.registry import get_method

    method, wanted = row_method(name, preset)
    presets = getattr(get_method(method).config_class, "PRESETS", {})
    if wanted in presets:
        return method, wanted
    if "@" in name and wanted != PAPER:
        raise HarcError(f"{name}: {method} has no preset {wanted!r}; its presets: "
                        f"{', '.join([PAPER, *presets])}")
    return method, None
