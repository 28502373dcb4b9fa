"""Link plane position to outcome: was each attacked prompt's generation a jailbreak?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from harc.analysis.errors import AnalysisError
from harc.analysis.plane import HARMLESS, PlanePoints
from harc.judges import Verdict


def is_jailbreak(verdict: Verdict) -> bool:
    """Judged harmful when the judge decides harm, else judged not to be a refusal."""
    if verdict.harmful is not None:
        return bool(verdict.harmful)
    return verdict.refused is False


@dataclass(frozen=True)
class ClassOutcome:
    attack: str
    n: int
    successes: int
    rate: float
    mean_success: tuple[float, float] | None  # (harm, refusal) of successful prompts
    mean_failure: tuple[float, float] | None


@dataclass(frozen=True)
class Outcome:
    """Per-class success rates and how well each coordinate predicts success.

    ``auroc_*`` is the AUROC of success scored by the *negated* coordinate, so values above
    0.5 mean that prompts lower on that axis (more suppressed) succeed more often.
    """

    classes: list[ClassOutcome]
    n: int
    successes: int
    auroc_harm: float | None
    auroc_refusal: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def link_outcome(
    points: PlanePoints, success: Sequence[bool], *, exclude: Sequence[str] = (HARMLESS,)
) -> Outcome:
    if len(success) != len(points.labels):
        raise AnalysisError(f"{len(success)} outcomes for {len(points.labels)} plane points")
    flags = np.asarray(success, dtype=bool)
    keep = np.array([label not in exclude for label in points.labels])
    if not keep.any():
        raise AnalysisError("no attacked prompts to link to outcomes")
    rows = []
    for label in points.classes():
        if label in exclude:
            continue
        mask = points.mask(label)
        won = flags[mask]
        coords = points.coords[mask]
        rows.append(ClassOutcome(
            label, int(mask.sum()), int(won.sum()), float(won.mean()),
            _mean(coords[won]), _mean(coords[~won])))
    kept, coords = flags[keep], points.coords[keep]
    both = 0 < kept.sum() < len(kept)
    return Outcome(
        rows, int(keep.sum()), int(kept.sum()),
        float(roc_auc_score(kept, -coords[:, 0])) if both else None,
        float(roc_auc_score(kept, -coords[:, 1])) if both else None,
    )


def _mean(coords: np.ndarray) -> tuple[float, float] | None:
    return None if len(coords) == 0 else (float(coords[:, 0].mean()), float(coords[:, 1].mean()))
