"""Figures of the analysis: the plane, answer-token projections, the slot sweep, transfer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Ellipse

from harc.analysis.plane import PlanePoints, class_geometry
from harc.analysis.response import Recognition
from harc.analysis.transfer import TransferResult
from harc.figures import plt, save_png


def plot_plane(
    points: PlanePoints, success: Sequence[bool] | None, path: str | Path, *, title: str = ""
) -> Path:
    """One colour per class; filled circles = jailbroken (answered), crosses = refused;
    a diamond at each class centroid with its 1-sigma ellipse."""
    figure, axis = plt.subplots(figsize=(7.5, 6.0), dpi=120)
    colours = plt.get_cmap("tab10")
    flags = np.ones(len(points.labels), bool) if success is None else np.asarray(success, bool)
    for index, label in enumerate(points.classes()):
        colour = colours(index % 10)
        mask = points.mask(label)
        coords = points.coords[mask]
        won = flags[mask]
        axis.scatter(coords[won, 0], coords[won, 1], s=22, color=colour, marker="o",
                     alpha=0.75, label=f"{label} (n={mask.sum()})")
        axis.scatter(coords[~won, 0], coords[~won, 1], s=26, color=colour, marker="x",
                     alpha=0.75)
        geometry = class_geometry(coords)
        ellipse = geometry["ellipse"]
        axis.add_patch(Ellipse(geometry["centroid"], ellipse["width"], ellipse["height"],
                               angle=ellipse["angle"], fill=False, color=colour, linewidth=1.2))
        axis.scatter(*geometry["centroid"], s=90, marker="D", color=colour, edgecolor="black",
                     zorder=5)
    for value in (0.0, 1.0):
        axis.axvline(value, color="grey", linewidth=0.7, linestyle=":")
        axis.axhline(value, color="grey", linewidth=0.7, linestyle=":")
    axis.set_xlabel("harmfulness: h(t_inst) on v_harm (0 = harmless, 1 = direct harmful)")
    axis.set_ylabel("refusal: h(t_post) on v_ref (0 = harmless, 1 = direct harmful)")
    axis.set_title(title + "\no = jailbroken / answered, x = refused; diamond + ellipse = "
                   "centroid, 1 sigma", fontsize=9)
    axis.legend(fontsize=7, loc="best")
    return save_png(figure, path)


def plot_response_tokens(recognition: Recognition, path: str | Path, *, title: str = "") -> Path:
    figure, axis = plt.subplots(figsize=(8.0, 4.5), dpi=120)
    styles = {"jailbroken": ("tab:red", "-"), "attacked, refused": ("tab:blue", "-"),
              "helpful (harmless prompts)": ("tab:green", "-"),
              "reference harmful": ("tab:red", "--"), "reference refusal": ("tab:blue", "--"),
              "reference helpful": ("tab:green", "--")}
    for name, curve in recognition.curves.items():
        values = np.array([np.nan if v is None else v for v in curve["mean"]], float)
        if np.isfinite(values).any():
            colour, style = styles.get(name, ("black", "-"))
            n = max(curve["count"]) if curve["count"] else 0
            axis.plot(np.arange(len(values)), values, color=colour, linestyle=style,
                      label=f"{name} (n={n})")
    axis.axhline(recognition.axis.midpoint, color="black", linewidth=0.9, linestyle=":",
                 label="harmful midpoint")
    axis.set_xlabel("answer token index")
    axis.set_ylabel(f"cos(h, v_harm_resp) at slot {recognition.axis.slot}")
    axis.set_title(title or "response-side harm recognition", fontsize=9)
    axis.legend(fontsize=7)
    return save_png(figure, path)


def plot_sweep(rows: Sequence[Mapping[str, Any]], path: str | Path, *, chosen: int) -> Path:
    figure, axis = plt.subplots(figsize=(8.0, 4.2), dpi=120)
    slots = [row["slot"] for row in rows]
    series = (("auroc_harm", "AUROC along v_harm", "tab:red"),
              ("auroc_refusal", "AUROC along v_ref", "tab:green"),
              ("separability", "attack-class CV accuracy", "tab:purple"),
              ("chance", "chance (majority class)", "grey"))
    for key, label, colour in series:
        values = [np.nan if row.get(key) is None else row[key] for row in rows]
        axis.plot(slots, values, marker="o", markersize=3, color=colour, label=label)
    axis.axvline(chosen, color="black", linestyle=":", linewidth=0.8, label=f"slot {chosen}")
    axis.set_xlabel("residual slot")
    axis.set_ylim(0.0, 1.05)
    axis.legend(fontsize=7)
    return save_png(figure, path)


def plot_transfer(result: TransferResult, path: str | Path) -> Path:
    panels = int(bool(result.cosines)) + int(bool(result.profiles))
    figure, axes = plt.subplots(1, max(panels, 1), figsize=(6.0 * max(panels, 1), 4.2),
                                dpi=120, squeeze=False)
    column = 0
    if result.cosines:
        axis = axes[0, column]
        for name, values in result.cosines.items():
            axis.plot([np.nan if v is None else v for v in values], marker="o", markersize=3,
                      label=f"cos(A.{name}, B.{name})")
        axis.set_xlabel("residual slot")
        axis.set_ylim(-1.05, 1.05)
        axis.legend(fontsize=7)
        column += 1
    if result.profiles:
        axis = axes[0, column]
        for index, (name, curve) in enumerate(result.profiles.items()):
            colour = plt.get_cmap("tab10")(index % 10)
            r = curve["pearson_r"]
            label = f"{name} (r={r:.2f})" if r is not None else name
            axis.plot(curve["grid"], curve["a"], color=colour, label=label)
            axis.plot(curve["grid"], curve["b"], color=colour, linestyle="--")
        axis.set_xlabel("relative depth (solid: A, dashed: B)")
        axis.legend(fontsize=7)
    figure.suptitle(f"A = {result.a}\nB = {result.b}", fontsize=8)
    return save_png(figure, path)
