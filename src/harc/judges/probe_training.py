"""Fitting a probe: slot, pooling and regularisation chosen by cross-validation with folds
grouped by behaviour (never by record: each behaviour appears under many attacks and targets),
and a nested estimate of the chosen probe's agreement on behaviours it never saw.

Each candidate is scikit-learn's standardisation, PCA to ``PCA_COMPONENTS`` dimensions and L2
logistic regression (lbfgs). PCA keeps the hundreds of cross-validation fits fast on a CPU and
acts as extra regularisation; since standardised training features have zero mean, the chain is
one linear map, so the saved :class:`~harc.judges.probe.Probe` is a single weight vector over
standardised features.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from harc.errors import HarcError
from harc.judges.probe import Probe
from harc.judges.probe_features import FeatureSpec

DEFAULT_C = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)
PCA_COMPONENTS = 64


@dataclass(frozen=True)
class Candidate:
    slot: int
    pooling: str
    c: float


@dataclass(frozen=True)
class SearchGrid:
    """What cross-validation chooses among: residual ``slots`` (``slot_index`` maps a slot to
    its column in the captured features), regularisation strengths ``cs``, and the number of
    grouped folds."""

    slots: Sequence[int]
    slot_index: dict[int, int]
    cs: Sequence[float] = DEFAULT_C
    n_folds: int = 5


@dataclass(frozen=True)
class Selection:
    """The chosen candidate and every candidate's grouped-CV balanced accuracy."""

    best: Candidate
    scores: dict[Candidate, float]


@dataclass(frozen=True)
class _Linear:
    """P(harmful) = sigmoid(((x - mean) / scale) . coef + intercept)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (((x - self.mean) / self.scale) @ self.coef + self.intercept > 0).astype(int)


def _fit(x: np.ndarray, y: np.ndarray, cs: Sequence[float]) -> list[_Linear]:
    """One probe per C; the standardisation and PCA are shared by all of them."""
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    z = (x - scaler.mean_) / scale
    pca = PCA(min(PCA_COMPONENTS, *z.shape), svd_solver="full").fit(z)
    reduced = pca.transform(z)
    fitted = []
    for c in cs:
        model = LogisticRegression(C=c, max_iter=2000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(reduced, y)
        coef = pca.components_.T @ model.coef_[0]
        intercept = float(model.intercept_[0] - pca.mean_ @ coef)
        fitted.append(_Linear(scaler.mean_, scale, coef, intercept))
    return fitted


def _balanced_accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    recalls = [float((predicted[y == label] == label).mean()) for label in (0, 1)
               if (y == label).any()]
    return float(np.mean(recalls))


def _folds(groups: np.ndarray, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    distinct = len(set(groups.tolist()))
    if distinct < n_folds:
        raise HarcError(f"grouped cross-validation needs at least {n_folds} groups, got {distinct}")
    return list(GroupKFold(n_splits=n_folds).split(np.zeros(len(groups)), groups=groups))


def _check(features: dict[str, torch.Tensor], labels: np.ndarray, groups: np.ndarray) -> None:
    if len(set(labels.tolist())) != 2:
        raise HarcError("a probe needs both harmful and not-harmful examples")
    for name, values in features.items():
        if values.shape[0] != len(labels) or len(groups) != len(labels):
            raise HarcError(f"{name}: {values.shape[0]} feature rows for {len(labels)} labels")


def select(
    features: dict[str, torch.Tensor], labels: np.ndarray, groups: np.ndarray, grid: SearchGrid,
    *, progress: bool = False,
) -> Selection:
    """Grouped-CV balanced accuracy of every (slot, pooling, C) of ``grid``; the best one.
    ``features``: ``{pooling: [N, captured slots, hidden]}``."""
    _check(features, labels, groups)
    folds = _folds(groups, grid.n_folds)
    slots, slot_index, cs = grid.slots, grid.slot_index, grid.cs
    scores: dict[Candidate, float] = {}
    grid = [(pooling, slot) for pooling in features for slot in slots]
    for pooling, slot in tqdm(grid, desc="probe candidates", disable=not progress, leave=False):
        x = features[pooling][:, slot_index[slot]].numpy()
        predicted = np.empty((len(cs), len(labels)), dtype=int)
        for train, test in folds:
            for row, fitted in enumerate(_fit(x[train], labels[train], cs)):
                predicted[row, test] = fitted.predict(x[test])
        for row, c in enumerate(cs):
            scores[Candidate(slot, pooling, c)] = _balanced_accuracy(labels, predicted[row])
    best = max(scores, key=lambda k: (scores[k], -k.c))
    return Selection(best, scores)


def fit_probe(
    features: dict[str, torch.Tensor],
    labels: np.ndarray,
    candidate: Candidate,
    *,
    slot_index: dict[int, int],
    spec: FeatureSpec,
    metadata: dict | None = None,
) -> Probe:
    x = features[candidate.pooling][:, slot_index[candidate.slot]].numpy()
    fitted = _fit(x, labels, [candidate.c])[0]
    return Probe(candidate.slot, candidate.pooling, torch.tensor(fitted.coef, dtype=torch.float32),
                 fitted.intercept, torch.tensor(fitted.mean, dtype=torch.float32),
                 torch.tensor(fitted.scale, dtype=torch.float32), spec, 0.5,
                 {"c": candidate.c, "pca_components": PCA_COMPONENTS, **(metadata or {})})


def nested_predictions(
    features: dict[str, torch.Tensor], labels: np.ndarray, groups: np.ndarray, grid: SearchGrid,
    *, spec: FeatureSpec, progress: bool = False,
) -> tuple[np.ndarray, list[Candidate]]:
    """Out-of-fold P(harmful) for every row: in each outer fold (grouped), the slot, pooling
    and C are chosen by an inner grouped CV on the training part only, then fitted there."""
    _check(features, labels, groups)
    probabilities = np.empty(len(labels))
    chosen = []
    inner_grid = SearchGrid(grid.slots, grid.slot_index, grid.cs, grid.n_folds - 1)
    outer = _folds(groups, grid.n_folds)
    for train, test in tqdm(outer, desc="outer folds", disable=not progress, leave=False):
        inner = {name: values[train] for name, values in features.items()}
        best = select(inner, labels[train], groups[train], inner_grid).best
        probe = fit_probe(inner, labels[train], best, slot_index=grid.slot_index, spec=spec)
        column = features[best.pooling][test][:, grid.slot_index[best.slot]]
        probabilities[test] = probe.probabilities(column).numpy()
        chosen.append(best)
    return probabilities, chosen
