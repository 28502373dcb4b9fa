"""Markdown for ``harc judge-eval`` results: one table per labelled set, overall then by
group, with Wilson 95% intervals."""

from __future__ import annotations

import math
from typing import Any


def _rate(value: float, interval: list[float]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def _row(name: str, s: dict[str, Any]) -> str:
    kappa = "–" if math.isnan(s["kappa"]) else f"{s['kappa']:.3f}"
    return (f"| {name} | {s['n']} | {s['undecided']} | {s['positives']}/{s['negatives']} | "
            f"{_rate(s['agreement'], s['agreement_ci95'])} | {kappa} | "
            f"{_rate(s['fpr'], s['fpr_ci95'])} | {_rate(s['fnr'], s['fnr_ci95'])} |")


def render_judge_eval(results: dict[str, Any]) -> str:
    describe = results.get("describe", {})
    lines = [f"# Judge evaluation: {results['judge']}", "",
             "Judge: " + ", ".join(f"{k}={v}" for k, v in describe.items()), ""]
    for kind, part in results["sets"].items():
        positive = "harmful" if part["compared"] == "harmful" else "refused"
        lines += [f"## {kind} ({part['labels']}, digest {part['labels_digest']})", "",
                  f"Compared: {part['compared']} (positive = {positive}); "
                  f"unlabelled samples left out: {part['unlabelled']}."
                  + (f" Throughput: {part['answers_per_second']:.2f} answers/s."
                     if part.get("answers_per_second") else ""), "",
                  "| group | n | undecided | pos/neg | agreement [95%] | kappa | FPR [95%] | "
                  "FNR [95%] |", "|---|---:|---:|---:|---:|---:|---:|---:|",
                  _row("**all**", part["overall"])]
        for attribute, groups in part["by"].items():
            lines += [_row(f"{attribute}={value}", s) for value, s in groups.items()]
        lines.append("")
    return "\n".join(lines)
