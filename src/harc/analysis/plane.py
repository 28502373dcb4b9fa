"""The harmfulness-refusal plane: h(t_inst) on v_harm (x) and h(t_post) on v_ref (y).

Coordinates are in units of the harmful-minus-harmless mean gap on each axis: 0 is the
harmless centroid and 1 the centroid of direct (un-attacked) harmful prompts. The projection
is the cosine with the direction (``cos``, the quantity HARC's losses act on) or the scalar
projection onto the unit direction (``dot``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from harc.analysis.errors import AnalysisError
from harc.directions import DirectionSet
from harc.directions.selection import middle_slots

Measure = Literal["cos", "dot"]
HARMLESS = "harmless"
DIRECT = "direct"
_MIN_GAP = 1e-9


@dataclass
class ClassActivations:
    """Residuals of one prompt class at ``slots``: ``t_inst``/``t_post`` are [N, len(slots), D]."""

    label: str
    t_inst: torch.Tensor
    t_post: torch.Tensor
    slots: tuple[int, ...]
    prompts: list[str] = field(default_factory=list)
    goals: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.t_inst.shape[0]
        if self.t_inst.shape != self.t_post.shape or self.t_inst.shape[1] != len(self.slots):
            raise AnalysisError(
                f"class {self.label!r}: t_inst {tuple(self.t_inst.shape)} and t_post "
                f"{tuple(self.t_post.shape)} must both be [N, {len(self.slots)}, hidden]"
            )
        self.prompts = self.prompts or [""] * n
        self.goals = self.goals or [None] * n
        if len(self.prompts) != n or len(self.goals) != n:
            raise AnalysisError(f"class {self.label!r}: {n} rows but prompts/goals differ")

    def __len__(self) -> int:
        return int(self.t_inst.shape[0])

    def at(self, slot: int) -> tuple[torch.Tensor, torch.Tensor]:
        if slot not in self.slots:
            raise AnalysisError(f"class {self.label!r} was not captured at slot {slot}")
        column = self.slots.index(slot)
        return self.t_inst[:, column], self.t_post[:, column]


def project(activations: torch.Tensor, direction: torch.Tensor, measure: Measure) -> np.ndarray:
    """Projection of ``[N, D]`` activations on one ``[D]`` direction."""
    acts = activations.double()
    unit = direction.double()
    if measure == "cos":
        values = torch.nn.functional.cosine_similarity(acts, unit.unsqueeze(0), dim=-1)
    elif measure == "dot":
        values = acts @ (unit / unit.norm().clamp_min(1e-30))
    else:
        raise AnalysisError(f"unknown measure {measure!r}; use 'cos' or 'dot'")
    return values.numpy()


@dataclass(frozen=True)
class Plane:
    """Affine map from raw projections to gap units at one slot."""

    slot: int
    measure: str
    harm_origin: float
    harm_gap: float
    refusal_origin: float
    refusal_gap: float

    def coordinates(self, harm: np.ndarray, refusal: np.ndarray) -> np.ndarray:
        """``[N, 2]``: column 0 harmfulness, column 1 refusal, in gap units."""
        return np.stack(
            [(harm - self.harm_origin) / self.harm_gap,
             (refusal - self.refusal_origin) / self.refusal_gap],
            axis=1,
        )


@dataclass
class PlanePoints:
    """Every prompt's plane coordinates with its class label and goal."""

    plane: Plane
    coords: np.ndarray
    labels: list[str]
    goals: list[str | None]
    prompts: list[str]

    def classes(self) -> list[str]:
        return list(dict.fromkeys(self.labels))

    def mask(self, label: str) -> np.ndarray:
        return np.array([name == label for name in self.labels])

    def of(self, label: str) -> np.ndarray:
        return self.coords[self.mask(label)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "plane": self.plane.__dict__,
            "points": [
                {"label": label, "harm": float(x), "refusal": float(y), "goal": goal,
                 "prompt": prompt}
                for label, (x, y), goal, prompt in zip(
                    self.labels, self.coords, self.goals, self.prompts, strict=True)
            ],
        }


def _projections(
    item: ClassActivations, directions: DirectionSet, slot: int, measure: Measure
) -> tuple[np.ndarray, np.ndarray]:
    t_inst, t_post = item.at(slot)
    return project(t_inst, directions.harm[slot], measure), project(
        t_post, directions.refusal[slot], measure)


def fit_plane(
    harmless: ClassActivations, harmful: ClassActivations, directions: DirectionSet, slot: int,
    measure: Measure = "cos",
) -> Plane:
    """Origin = harmless centroid, unit = (direct harmful - harmless) centroid gap per axis."""
    if len(harmless) == 0 or len(harmful) == 0:
        raise AnalysisError("the plane needs non-empty harmless and direct harmful sets")
    if not 0 <= slot < directions.num_slots:
        raise AnalysisError(f"slot {slot} outside 0..{directions.num_slots - 1}")
    safe_harm, safe_ref = _projections(harmless, directions, slot, measure)
    bad_harm, bad_ref = _projections(harmful, directions, slot, measure)
    harm_gap = float(bad_harm.mean() - safe_harm.mean())
    ref_gap = float(bad_ref.mean() - safe_ref.mean())
    for axis, gap in (("harmfulness", harm_gap), ("refusal", ref_gap)):
        if not np.isfinite(gap) or abs(gap) < _MIN_GAP:
            raise AnalysisError(
                f"zero harmful-minus-harmless gap on the {axis} axis at slot {slot} "
                f"({gap:.3g}): no unit for the plane; choose another slot"
            )
    return Plane(slot, measure, float(safe_harm.mean()), harm_gap, float(safe_ref.mean()),
                 ref_gap)


def plane_points(
    classes: Sequence[ClassActivations], directions: DirectionSet, slot: int,
    measure: Measure = "cos", *, harmless: str = HARMLESS, reference: str = DIRECT,
) -> PlanePoints:
    """Coordinates of every class at ``slot``; the plane is fitted on ``harmless``/``reference``."""
    by_label = {item.label: item for item in classes}
    for needed in (harmless, reference):
        if needed not in by_label:
            raise AnalysisError(f"the plane needs a {needed!r} class; got {sorted(by_label)}")
    plane = fit_plane(by_label[harmless], by_label[reference], directions, slot, measure)
    coords, labels, goals, prompts = [], [], [], []
    for item in classes:
        harm, refusal = _projections(item, directions, slot, measure)
        coords.append(plane.coordinates(harm, refusal))
        labels += [item.label] * len(item)
        goals += item.goals
        prompts += item.prompts
    return PlanePoints(plane, np.concatenate(coords), labels, goals, prompts)


def slot_aurocs(
    harmless: ClassActivations, harmful: ClassActivations, directions: DirectionSet,
    measure: Measure = "cos",
) -> dict[int, tuple[float, float]]:
    """Per shared slot, AUROC of harmful-vs-harmless along v_harm (t_inst) and v_ref (t_post).

    These prompts are held out from the direction extraction. Zero directions score 0.5.
    """
    labels = np.r_[np.ones(len(harmful)), np.zeros(len(harmless))]
    if len(harmful) == 0 or len(harmless) == 0:
        raise AnalysisError("AUROC needs non-empty harmless and harmful sets")
    result = {}
    for slot in sorted(set(harmless.slots) & set(harmful.slots)):
        bad = _projections(harmful, directions, slot, measure)
        safe = _projections(harmless, directions, slot, measure)
        norms = (directions.harm[slot].norm(), directions.refusal[slot].norm())
        aurocs = [
            float(roc_auc_score(labels, np.r_[bad[axis], safe[axis]])) if norms[axis] > 0 else 0.5
            for axis in (0, 1)
        ]
        result[slot] = (aurocs[0], aurocs[1])
    return result


def choose_slot(aurocs: Mapping[int, tuple[float, float]], num_slots: int) -> int:
    """The middle slot (25-75% depth) with the best mean of the two AUROCs; ties: shallower."""
    candidates = [slot for slot in middle_slots(num_slots) if slot in aurocs]
    if not candidates:
        candidates = sorted(aurocs)
    if not candidates:
        raise AnalysisError("no slot has AUROCs to choose from")
    return max(candidates, key=lambda slot: (round(sum(aurocs[slot]) / 2, 9), -slot))


def class_geometry(coords: np.ndarray) -> dict[str, Any]:
    """Centroid, covariance and the 1-sigma ellipse (full axes lengths, angle in degrees)."""
    centroid = coords.mean(0)
    cov = np.zeros((2, 2)) if len(coords) < 2 else np.cov(coords, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    major = vectors[:, 1]
    return {
        "n": len(coords),
        "centroid": centroid.tolist(),
        "std": np.sqrt(np.clip(np.diag(cov), 0, None)).tolist(),
        "covariance": cov.tolist(),
        "ellipse": {"width": float(2 * np.sqrt(max(values[1], 0.0))),
                    "height": float(2 * np.sqrt(max(values[0], 0.0))),
                    "angle": float(np.degrees(np.arctan2(major[1], major[0])))},
    }


def classes_from_rows(
    rows: Sequence[tuple[str, str, str | None]], t_inst: torch.Tensor, t_post: torch.Tensor,
    slots: tuple[int, ...],
) -> list[ClassActivations]:
    """Group (class, prompt, goal) rows and their residuals by class, in first-seen order."""
    labels = list(dict.fromkeys(label for label, _, _ in rows))
    classes = []
    for label in labels:
        index = [i for i, row in enumerate(rows) if row[0] == label]
        classes.append(ClassActivations(label, t_inst[index], t_post[index], slots,
                                        [rows[i][1] for i in index], [rows[i][2] for i in index]))
    return classes
