"""The harmfulness-refusal plane for the demo: prompt residuals only (no generation).

Classes: held-out harmless prompts, direct harmful goals and the same goals under each
attack. The base model fixes the plane (slot, directions, origin and unit: the harmless and
direct-harmful centroids of the BASE model); the tuned model's points are projected on that
same plane, so a move of any class after training shows as a move in the figure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harc.activations import capture_prompts
from harc.analysis.plane import (
    DIRECT,
    HARMLESS,
    ClassActivations,
    Plane,
    PlanePoints,
    choose_slot,
    class_geometry,
    classes_from_rows,
    fit_plane,
    project,
    slot_aurocs,
)
from harc.analysis.suppression import ClassShift, attack_shifts
from harc.attacks import get_attack
from harc.directions import DirectionSet
from harc.figures import plt, save_png
from harc.io import write_json_atomic
from harc.positions import ChatFormat


@dataclass
class PlaneResult:
    points: PlanePoints
    shifts: list[ClassShift]
    aurocs: dict[int, tuple[float, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"slot": self.points.plane.slot, **self.points.as_dict(),
                "shifts": [s.as_dict() for s in self.shifts],
                "aurocs": {str(k): list(v) for k, v in self.aurocs.items()}}


def plane_rows(goals: Sequence[str], harmless: Sequence[str], attacks: Sequence[str],
               seed: int = 0) -> list[tuple[str, str, str | None]]:
    """(class, prompt, goal) rows: harmless, direct, then each attack, in that order."""
    rows: list[tuple[str, str, str | None]] = [(HARMLESS, text, None) for text in harmless]
    for name in (DIRECT, *[a for a in attacks if a != DIRECT]):
        rows += [(name, item.prompt, item.goal)
                 for item in get_attack(name).apply(list(goals), seed=seed)]
    return rows


def measure_plane(
    model: Any, chat: ChatFormat, directions: DirectionSet,
    rows: Sequence[tuple[str, str, str | None]], *, plane: Plane | None = None,
    batch_size: int = 8, progress: bool = True, resamples: int = 2000, seed: int = 0,
) -> PlaneResult:
    """Capture t_inst/t_post at every slot, choose the slot (unless ``plane`` fixes it),
    place every row on the plane and measure each attack's shift from direct prompts."""
    captured = capture_prompts(model, chat, [text for _, text, _ in rows],
                               batch_size=batch_size, progress=progress)
    slots = tuple(range(captured["t_inst"].shape[1]))
    classes = classes_from_rows(rows, captured["t_inst"], captured["t_post"], slots)
    by_label = {item.label: item for item in classes}
    aurocs = slot_aurocs(by_label[HARMLESS], by_label[DIRECT], directions)
    if plane is None:
        slot = choose_slot(aurocs, directions.num_slots)
        plane = fit_plane(by_label[HARMLESS], by_label[DIRECT], directions, slot)
    points = _points(classes, directions, plane)
    shifts = attack_shifts(points, resamples=resamples, seed=seed)
    return PlaneResult(points, shifts, aurocs)


def _points(classes: Sequence[ClassActivations], directions: DirectionSet,
            plane: Plane) -> PlanePoints:
    coords, labels, goals, prompts = [], [], [], []
    for item in classes:
        t_inst, t_post = item.at(plane.slot)
        harm = project(t_inst, directions.harm[plane.slot], "cos")
        refusal = project(t_post, directions.refusal[plane.slot], "cos")
        coords.append(plane.coordinates(harm, refusal))
        labels += [item.label] * len(item)
        goals += item.goals
        prompts += item.prompts
    return PlanePoints(plane, np.concatenate(coords), labels, goals, prompts)


def save_plane(result: PlaneResult, path: Path) -> Path:
    write_json_atomic(path, result.to_dict())
    return path


def load_plane(path: Path) -> tuple[Plane, PlanePoints]:
    data = json.loads(path.read_text(encoding="utf-8"))
    plane = Plane(**data["plane"])
    points = data["points"]
    return plane, PlanePoints(
        plane, np.array([[p["harm"], p["refusal"]] for p in points]),
        [p["label"] for p in points], [p["goal"] for p in points],
        [p["prompt"] for p in points])


def plot_planes(panels: Sequence[tuple[str, PlanePoints]], path: Path,
                outcomes: Mapping[str, Mapping[str, bool]] | None = None) -> Path:
    """Side-by-side planes with shared axes. ``outcomes[panel title][prompt]`` = jailbroken:
    circles answered, crosses refused (no outcome: circles)."""
    figure, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 5.4), dpi=110,
                                sharex=True, sharey=True, squeeze=False)
    colours = plt.get_cmap("tab10")
    labels = list(dict.fromkeys(label for _, pts in panels for label in pts.classes()))
    for axis, (title, points) in zip(axes[0], panels, strict=True):
        flags = (outcomes or {}).get(title, {})
        for label in points.classes():
            colour = colours(labels.index(label) % 10)
            mask = points.mask(label)
            coords = points.coords[mask]
            won = np.array([flags.get(p, True) for p, m in zip(points.prompts, mask,
                                                               strict=True) if m], bool)
            axis.scatter(coords[won, 0], coords[won, 1], s=20, color=colour, alpha=0.7,
                         label=f"{label} (n={mask.sum()})")
            axis.scatter(coords[~won, 0], coords[~won, 1], s=24, marker="x", color=colour,
                         alpha=0.7)
            centre = class_geometry(coords)["centroid"]
            axis.scatter(*centre, s=90, marker="D", color=colour, edgecolor="black", zorder=5)
        for value in (0.0, 1.0):
            axis.axvline(value, color="grey", linewidth=0.7, linestyle=":")
            axis.axhline(value, color="grey", linewidth=0.7, linestyle=":")
        axis.set_title(f"{title} (slot {points.plane.slot})", fontsize=10)
        axis.set_xlabel("harmfulness: h(t_inst) on v_harm")
    axes[0][0].set_ylabel("refusal: h(t_post) on v_ref")
    axes[0][0].legend(fontsize=7, loc="best")
    figure.suptitle("Harmfulness-refusal plane, base model's units (0 = harmless centroid, "
                    "1 = direct harmful centroid); o answered, x refused; diamond = centroid",
                    fontsize=9)
    return save_png(figure, path)
