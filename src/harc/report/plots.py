"""Figures of evaluation results: the primary judge's rate per attack per method (the
compliance rate for a refusal judge, the harmful rate, i.e. ASR, for a harm judge), and the
safety trade-off."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.text import Text

from harc.evaluation.results import EvaluationResult
from harc.figures import plt, save_png


def _rate_name(results: Sequence[EvaluationResult]) -> str:
    """What the primary judges' rates are: ``compliance rate``, ``harmful rate`` or ``rate``."""
    kinds = {r.judge_measures(r.harm_judge) for r in results} - {None}
    return {"compliance": "compliance rate", "harm": "harmful rate"}.get(
        kinds.pop() if len(kinds) == 1 else "", "rate")


def plot_asr(results: Sequence[EvaluationResult], path: str | Path) -> Path:
    """Grouped bars: the primary judge's rate per attack (x), one bar per method, 95%
    intervals as error bars."""
    attacks: dict[str, str] = {}
    for result in results:
        for item in result.section("harmfulness"):
            attacks.setdefault(item.name, item.label)
    names = list(attacks)
    width = 0.8 / max(1, len(results))
    figure, axis = plt.subplots(figsize=(max(6.0, 1.1 * len(names) + 2), 4.2), dpi=120)
    x = np.arange(len(names))
    for k, result in enumerate(results):
        items = [result.get("harmfulness", name) for name in names]
        values = [i.value if i is not None else np.nan for i in items]
        low = [max(0.0, i.value - i.ci_low) if i is not None else 0.0 for i in items]
        high = [max(0.0, i.ci_high - i.value) if i is not None else 0.0 for i in items]
        axis.bar(x + (k - (len(results) - 1) / 2) * width, values, width, yerr=[low, high],
                 capsize=2, label=result.method)
    axis.set_xticks(x, [attacks[n] for n in names], rotation=30, ha="right", fontsize=8)
    axis.set_ylim(0.0, 1.05)
    rate = _rate_name(results)
    axis.set_ylabel(rate)
    judges = ", ".join(sorted({r.harm_judge for r in results}))
    axis.set_title(f"{rate} per attack (judge: {judges}; bars: 95% Wilson)", fontsize=9)
    axis.legend(fontsize=7)
    return save_png(figure, path)


def plot_tradeoff(results: Sequence[EvaluationResult], path: str | Path) -> Path:
    """Mean attack rate (y) against mean over-refusal (x); marker area grows with capability mean.
    Methods that land on the same point share one label, so no name is drawn over another."""
    figure, axis = plt.subplots(figsize=(5.5, 4.5), dpi=120)
    points: dict[tuple[float, float, float | None], list[str]] = {}
    for result in results:
        capability = result.mean_capability
        size = 40.0 if math.isnan(capability) else 40.0 + 400.0 * capability
        over = 0.0 if math.isnan(result.mean_over_refusal) else result.mean_over_refusal
        axis.scatter([over], [result.mean_asr], s=size, alpha=0.7, label=result.method)
        # NaN never equals NaN, so a missing capability is keyed as None.
        key = (round(over, 6), round(result.mean_asr, 6),
               None if math.isnan(capability) else round(capability, 6))
        points.setdefault(key, []).append(result.method)
    axis.set_xlim(-0.05, 1.05)
    axis.set_ylim(-0.05, 1.05)
    axis.set_xlabel("mean over-refusal rate (lower is better)")
    axis.set_ylabel(f"mean {_rate_name(results)} over attacks (lower is better)")
    axis.set_title("Safety trade-off (marker size: capability mean)", fontsize=9)
    figure.tight_layout()
    labels = []  # two rows at one point with different capability keep both labels
    for (over, asr, capability), methods in points.items():
        names = ", ".join(methods)
        labels.append((over, asr, names if capability is None else f"{names} ({capability:.2f})"))
    place_labels(axis, labels)
    return save_png(figure, path)


# Label offsets from the point, in points: above right first, then alternately below and above.
_LABEL_OFFSETS = (5, -12, 16, -23, 27, -34, 38, -45)


def place_labels(axis: Any, labels: Sequence[tuple[float, float, str]]) -> list[Any]:
    """Annotate each point, moving a label that would overlap one already placed up or down
    (with a leader line); points are taken from the top. Returns the annotations."""
    renderer = axis.figure.canvas.get_renderer()
    placed: list[Any] = []
    for x, y, label in sorted(labels, key=lambda item: -item[1]):
        for offset in _LABEL_OFFSETS:
            leader = None if offset == _LABEL_OFFSETS[0] else {"arrowstyle": "-", "lw": 0.5,
                                                               "color": "0.5"}
            text = axis.annotate(label, (x, y), fontsize=7, xytext=(5, offset),
                                 textcoords="offset points", arrowprops=leader)
            box = label_extent(text, renderer)
            if not any(box.overlaps(label_extent(other, renderer)) for other in placed):
                break
            if offset != _LABEL_OFFSETS[-1]:
                text.remove()
        placed.append(text)
    return placed


def label_extent(annotation: Any, renderer: Any) -> Any:
    """The annotation's text box in display units, without its leader line (which may cross
    other labels' boxes, as lines do)."""
    annotation.update_positions(renderer)
    return Text.get_window_extent(annotation, renderer)
