"""Are attack classes separable in the plane? Cross-validated logistic regression on (x, y)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, confusion_matrix
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from harc.analysis.errors import AnalysisError
from harc.analysis.plane import HARMLESS, PlanePoints


@dataclass(frozen=True)
class Separability:
    """Out-of-fold accuracy against the majority-class rate; ``confusion[i][j]`` counts
    prompts of ``classes[i]`` predicted as ``classes[j]``."""

    accuracy: float
    balanced_accuracy: float
    chance: float
    majority_class: str
    folds: int
    n: int
    classes: list[str]
    confusion: list[list[int]]
    recall: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def class_separability(
    coords: np.ndarray, labels: Sequence[str], *, folds: int = 5, seed: int = 0
) -> Separability:
    """Stratified ``folds``-fold CV (fewer when the smallest class is smaller) of a
    standardised multinomial logistic regression predicting ``labels`` from ``coords``."""
    labels = list(labels)
    if coords.ndim != 2 or coords.shape[0] != len(labels):
        raise AnalysisError(f"coords {coords.shape} do not match {len(labels)} labels")
    counts = Counter(labels)
    if len(counts) < 2:
        raise AnalysisError(
            f"separability needs at least two classes, got {sorted(counts) or 'none'}")
    smallest = min(counts.values())
    if smallest < 2:
        lonely = sorted(name for name, n in counts.items() if n < 2)
        raise AnalysisError(f"classes {lonely} have fewer than 2 prompts: cannot cross-validate")
    if not np.isfinite(coords).all():
        raise AnalysisError("coordinates contain NaN or infinity")
    k = min(folds, smallest)
    classes = list(counts)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    predicted = cross_val_predict(model, coords, np.array(labels), cv=splitter)
    truth = np.array(labels)
    matrix = confusion_matrix(truth, predicted, labels=classes)
    majority, top = counts.most_common(1)[0]
    return Separability(
        accuracy=float((predicted == truth).mean()),
        balanced_accuracy=float(balanced_accuracy_score(truth, predicted)),
        chance=top / len(labels),
        majority_class=majority,
        folds=k,
        n=len(labels),
        classes=classes,
        confusion=matrix.tolist(),
        recall={name: float(matrix[i, i] / max(1, matrix[i].sum()))
                for i, name in enumerate(classes)},
    )


def attack_separability(
    points: PlanePoints, *, exclude: Sequence[str] = (HARMLESS,), folds: int = 5, seed: int = 0
) -> Separability:
    """Separability of the attack classes (direct included, ``exclude`` left out)."""
    keep = np.array([label not in exclude for label in points.labels])
    labels = [label for label, k in zip(points.labels, keep, strict=True) if k]
    return class_separability(points.coords[keep], labels, folds=folds, seed=seed)
