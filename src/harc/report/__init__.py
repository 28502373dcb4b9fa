"""Reports of evaluation results: the paper's Table 1 as Markdown, and PNG figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harc.report.plots import plot_asr, plot_tradeoff
from harc.report.table import (
    Column,
    render_ci_table,
    render_difference_table,
    render_table,
    table_columns,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from harc.evaluation.results import EvaluationResult

__all__ = [
    "Column",
    "plot_asr",
    "plot_tradeoff",
    "render_ci_table",
    "render_difference_table",
    "render_table",
    "table_columns",
    "write_report",
    "write_single_report",
]


def write_report(results: Sequence[EvaluationResult], out_dir: str | Path,
                 base: str | None = None, also_against: Sequence[str] = ()) -> dict[str, str]:
    """``table.md``, ``asr.png`` and ``tradeoff.png`` in ``out_dir``; returns their paths.
    ``base`` and ``also_against``: the rows the others are compared with (see
    :func:`render_table`)."""
    from harc.io import write_text_atomic

    out = Path(out_dir)
    table = out / "table.md"
    write_text_atomic(table, render_table(results, base=base, also_against=also_against) + "\n")
    files = {"table": str(table)}
    if any(r.section("harmfulness") for r in results):
        files["asr_plot"] = str(plot_asr(results, out / "asr.png"))
        files["tradeoff_plot"] = str(plot_tradeoff(results, out / "tradeoff.png"))
    return files


def write_single_report(result: EvaluationResult, out_dir: str | Path) -> dict[str, str]:
    """:func:`write_report` of one evaluation (``harc.evaluation.runner.evaluate``'s
    ``reporter``)."""
    return write_report([result], out_dir)
