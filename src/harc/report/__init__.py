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
    "write_table_and_figures",
]


def write_table_and_figures(results: Sequence[EvaluationResult], out_dir: str | Path,
                            base: str | None = None, also_against: Sequence[str] = (),
                            appendix: str = "") -> dict[str, str]:
    """``table.md``, ``asr.png`` and ``tradeoff.png`` in ``out_dir``; returns their paths.
    ``base`` and ``also_against``: the rows the others are compared with (see
    :func:`render_table`); ``appendix``: Markdown put after the table."""
    return _table_and_figures(results, Path(out_dir), base, also_against, appendix)[1]


def _table_and_figures(results: Sequence[EvaluationResult], out: Path, base: str | None,
                       also_against: Sequence[str], appendix: str = ""
                       ) -> tuple[str, dict[str, str]]:
    from harc.io import write_text_atomic

    text = render_table(results, base=base, also_against=also_against)
    if appendix:
        text += "\n\n" + appendix
    table = out / "table.md"
    write_text_atomic(table, text + "\n")
    files = {"table": str(table)}
    if any(r.section("harmfulness") for r in results):
        files["asr_plot"] = str(plot_asr(results, out / "asr.png"))
        files["tradeoff_plot"] = str(plot_tradeoff(results, out / "tradeoff.png"))
    return text, files


def write_report(results: Sequence[EvaluationResult], out_dir: str | Path,
                 base: str | None = None, also_against: Sequence[str] = (),
                 appendix: str = "") -> dict[str, str]:
    """:func:`write_table_and_figures`, and ``report.md`` + self-contained ``report.html``
    holding the table and the figures (:class:`harc.document.Document`)."""
    from harc.document import Document

    text, files = _table_and_figures(results, Path(out_dir), base, also_against, appendix)
    methods = ", ".join(result.method for result in results)
    doc = Document(f"harc evaluation: {methods} on {results[0].model}" if results
                   else "harc evaluation")
    doc.markdown_table(text)
    for key, alt in (("asr_plot", "rate per attack"), ("tradeoff_plot", "safety trade-off")):
        if key in files:
            doc.image(Path(files[key]), alt)
    files.update({name: str(path) for name, path in doc.write(out_dir).items()})
    return files


def write_single_report(result: EvaluationResult, out_dir: str | Path) -> dict[str, str]:
    """:func:`write_report` of one evaluation (``harc.evaluation.runner.evaluate``'s
    ``reporter``)."""
    return write_report([result], out_dir)
