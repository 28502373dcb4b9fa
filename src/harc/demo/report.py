"""The demo report: ``report.md`` and a self-contained ``report.html`` read top to bottom.

Every number comes from the stage outputs on disk; the sentences that interpret them are
written from the numbers (e.g. whether over-refusal rose), never fixed text about results.
The sections are written by :mod:`harc.demo.sections`; this module draws the two figures,
assembles the document and writes both files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harc.demo import sections
from harc.demo.budget import DemoBudget
from harc.demo.plane import load_plane, plot_planes
from harc.demo.sections import DIRECTIONS, EVAL_BASE, EVAL_HARC, PLANE_BASE, PLANE_HARC, TRAIN
from harc.demo.stages import StageRecord
from harc.demo.summary import summary
from harc.document import Document
from harc.evaluation.results import EvaluationResult
from harc.report import write_table_and_figures
from harc.training.config import HarcConfig


def write_demo_report(out: Path, model: str, budget: DemoBudget, config: HarcConfig,
                      records: Mapping[str, StageRecord], seconds: float,
                      load_seconds: float = 0.0) -> dict[str, Any]:
    folder = out / "07-report"
    base = EvaluationResult.load(out / EVAL_BASE)
    tuned = EvaluationResult.load(out / EVAL_HARC)
    figures = write_table_and_figures([base, tuned], folder, base=base.method)
    plane_png = _plane_figure(out, folder, base, tuned)
    loss_png = _loss_figure(out / TRAIN / "train_log.jsonl", folder / "training_losses.png")

    doc = Document(f"HARC demo: {model}")
    sections.overview(doc, model, budget, config, records, seconds, load_seconds)
    summary(doc, base, tuned)
    sections.directions_section(doc, out, records[DIRECTIONS].summary)
    sections.plane_section(doc, plane_png, records[PLANE_BASE].summary, records[PLANE_HARC].summary)
    sections.training_section(doc, out, records[TRAIN].summary, loss_png)
    sections.evaluation_section(doc, base, tuned, folder, figures)
    sections.examples(doc, base, tuned)
    sections.caveats(doc, model, base, tuned, config)

    written = doc.write(out)
    markdown, page = written["report_md"], written["report_html"]
    headline = {"mean_asr": [base.mean_asr, tuned.mean_asr],
                "mean_over_refusal": [base.mean_over_refusal, tuned.mean_over_refusal],
                "mean_capability": [base.mean_capability, tuned.mean_capability]}
    return {"files": {"report_md": str(markdown), "report_html": str(page),
                      "table": figures["table"], "plane": str(plane_png)},
            "headline": headline}


def _plane_figure(out: Path, folder: Path, base: EvaluationResult,
                  tuned: EvaluationResult) -> Path:
    panels = [("base model", load_plane(out / PLANE_BASE / "plane.json")[1]),
              ("HARC-tuned", load_plane(out / PLANE_HARC / "plane.json")[1])]
    outcomes = {"base model": _outcomes(base), "HARC-tuned": _outcomes(tuned)}
    return plot_planes(panels, folder / "plane_before_after.png", outcomes)


def _outcomes(result: EvaluationResult) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    for section in result.section("harmfulness"):
        for sample in section.samples:
            if sample.get("harmful") is not None:
                flags[sample["prompt"]] = bool(sample["harmful"])
    return flags


def _loss_figure(log: Path, path: Path) -> Path | None:
    from harc.figures import plt, save_png

    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] \
        if log.is_file() else []
    if not records:
        return None
    figure, axis = plt.subplots(figsize=(7, 3.6), dpi=110)
    steps = [r["step"] for r in records]
    for key in ("couple", "couple_resp", "kl", "ce", "total"):
        if key in records[0]:
            axis.plot(steps, [r[key] for r in records], label=key, marker=".")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend(fontsize=8)
    axis.set_title("HARC loss terms (KL shown unweighted)", fontsize=9)
    return save_png(figure, path)
