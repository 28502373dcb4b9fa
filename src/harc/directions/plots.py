"""Per-layer plot of cos(v_harm, v_ref) with its bootstrap band, and held-out AUROC."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harc.directions.statistics import CosineInterval, SeparationStats
from harc.figures import plt, save_png


def plot_direction_cosines(
    interval: CosineInterval,
    path: str | Path,
    *,
    harm_separation: SeparationStats | None = None,
    refusal_separation: SeparationStats | None = None,
    title: str = "",
) -> Path:
    slots = np.arange(len(interval.estimate))
    figure, axis = plt.subplots(figsize=(8, 4.2), dpi=120)
    axis.fill_between(
        slots,
        interval.low,
        interval.high,
        alpha=0.25,
        color="tab:blue",
        label=f"{int(interval.level * 100)}% bootstrap ({interval.resamples} resamples)",
    )
    axis.plot(
        slots,
        interval.estimate,
        marker="o",
        markersize=3,
        color="tab:blue",
        label="cos(v_harm, v_ref)",
    )
    axis.axhline(0.0, color="grey", linewidth=0.8)
    axis.set_xlabel("residual slot (input of block L; last = output of final block)")
    axis.set_ylabel("cosine")
    axis.set_ylim(-1.05, 1.05)
    if harm_separation is not None or refusal_separation is not None:
        twin = axis.twinx()
        if harm_separation is not None:
            twin.plot(
                slots,
                harm_separation.auroc,
                linestyle="--",
                color="tab:red",
                label="held-out AUROC along v_harm (t_inst)",
            )
        if refusal_separation is not None:
            twin.plot(
                slots,
                refusal_separation.auroc,
                linestyle=":",
                color="tab:green",
                label="held-out AUROC along v_ref (t_post)",
            )
        twin.set_ylim(0.0, 1.05)
        twin.set_ylabel("AUROC")
        lines, labels = axis.get_legend_handles_labels()
        twin_lines, twin_labels = twin.get_legend_handles_labels()
        axis.legend(lines + twin_lines, labels + twin_labels, loc="lower left", fontsize=7)
    else:
        axis.legend(loc="lower left", fontsize=7)
    axis.set_title(title or "Harmfulness vs refusal direction per layer", fontsize=10)
    return save_png(figure, path)
