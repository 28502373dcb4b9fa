"""The plane at every captured slot: AUROCs, attack-class separability and verdicts per slot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harc.analysis.errors import AnalysisError
from harc.analysis.plane import ClassActivations, Measure, plane_points
from harc.analysis.separability import attack_separability
from harc.analysis.suppression import SuppressionRule, attack_shifts
from harc.directions import DirectionSet


def sweep_slots(
    classes: Sequence[ClassActivations], directions: DirectionSet,
    aurocs: Mapping[int, tuple[float, float]], *, measure: Measure = "cos",
    rule: SuppressionRule | None = None, resamples: int = 1000, folds: int = 5, seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per slot captured for every class. Slots where the plane is undefined (zero
    gap, e.g. t_post at the embeddings) keep their AUROCs and give the reason in ``error``."""
    shared = set.intersection(*(set(item.slots) for item in classes))
    rows = []
    for slot in sorted(shared):
        auroc = aurocs.get(slot)
        row: dict[str, Any] = {
            "slot": slot,
            "auroc_harm": auroc[0] if auroc else None,
            "auroc_refusal": auroc[1] if auroc else None,
            "separability": None, "chance": None, "verdicts": {}, "shifts": {}, "error": None,
        }
        try:
            points = plane_points(classes, directions, slot, measure)
            separable = attack_separability(points, folds=folds, seed=seed)
            shifts = attack_shifts(points, rule=rule, resamples=resamples, seed=seed)
        except AnalysisError as error:
            row["error"] = str(error)
            rows.append(row)
            continue
        row.update(
            separability=separable.accuracy, chance=separable.chance,
            verdicts={s.attack: s.verdict for s in shifts},
            shifts={s.attack: [s.harm.mean, s.refusal.mean] for s in shifts},
        )
        rows.append(row)
    return rows
