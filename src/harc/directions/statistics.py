"""Bootstrap intervals for cos(v_harm, v_ref) and held-out projection statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from harc.directions.extraction import mean_difference
from harc.errors import DirectionError


@dataclass(frozen=True)
class CosineInterval:
    """Per-slot point estimate and percentile bootstrap interval."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    resamples: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready; undefined slots become ``None``."""
        return {
            "estimate": _nullable(self.estimate),
            "low": _nullable(self.low),
            "high": _nullable(self.high),
            "level": self.level,
            "resamples": self.resamples,
        }


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(value) else float(value) for value in values]


def bootstrap_prompt_cosine(
    harmful_t_inst: torch.Tensor,
    harmful_t_post: torch.Tensor,
    harmless_t_inst: torch.Tensor,
    harmless_t_post: torch.Tensor,
    *,
    resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> CosineInterval:
    """Resample both prompt sets with replacement (the same prompts for t_inst and t_post) and
    recompute cos(v_harm[L], v_ref[L]) per slot. Inputs are ``[N, slots, hidden]``. Slots where
    either direction is undefined (zero mean gap, e.g. t_post at the embeddings) are NaN."""
    n_harmful, n_harmless = harmful_t_inst.shape[0], harmless_t_inst.shape[0]
    if n_harmful < 2 or n_harmless < 2:
        raise DirectionError(
            f"bootstrap needs at least 2 prompts per set, got {n_harmful} and {n_harmless}"
        )
    generator = torch.Generator().manual_seed(seed)
    estimates = []
    for _ in range(resamples):
        rows_harmful = torch.randint(n_harmful, (n_harmful,), generator=generator)
        rows_harmless = torch.randint(n_harmless, (n_harmless,), generator=generator)
        harm = harmful_t_inst[rows_harmful].mean(0) - harmless_t_inst[rows_harmless].mean(0)
        refusal = harmful_t_post[rows_harmful].mean(0) - harmless_t_post[rows_harmless].mean(0)
        estimates.append(torch.nn.functional.cosine_similarity(harm, refusal, dim=-1))
    stacked = torch.stack(estimates).double().numpy()
    alpha = (1.0 - level) / 2.0
    harm, harm_norm = mean_difference(harmful_t_inst, harmless_t_inst)
    refusal, refusal_norm = mean_difference(harmful_t_post, harmless_t_post)
    point = torch.nn.functional.cosine_similarity(harm, refusal, dim=-1).double().numpy()
    undefined = ((harm_norm == 0) | (refusal_norm == 0)).numpy()
    low = np.quantile(stacked, alpha, axis=0)
    high = np.quantile(stacked, 1.0 - alpha, axis=0)
    for values in (point, low, high):
        values[undefined] = np.nan
    return CosineInterval(estimate=point, low=low, high=high, level=level, resamples=resamples)


def projection_cosines(activations: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """cos(h[i, L], v[L]) for activations ``[N, slots, hidden]``, directions ``[slots, hidden]``."""
    return torch.nn.functional.cosine_similarity(activations, directions.unsqueeze(0), dim=-1)


@dataclass(frozen=True)
class SeparationStats:
    """Held-out separation of harmful vs harmless along one direction, per slot."""

    mean_cos_harmful: np.ndarray
    mean_cos_harmless: np.ndarray
    auroc: np.ndarray

    def as_dict(self) -> dict[str, list[float]]:
        return {
            "mean_cos_harmful": self.mean_cos_harmful.tolist(),
            "mean_cos_harmless": self.mean_cos_harmless.tolist(),
            "auroc": self.auroc.tolist(),
        }


def separation(
    harmful: torch.Tensor, harmless: torch.Tensor, directions: torch.Tensor
) -> SeparationStats:
    """Mean projection cosine of each set and AUROC of harmful-vs-harmless by that cosine."""
    if harmful.shape[0] == 0 or harmless.shape[0] == 0:
        raise DirectionError("separation needs non-empty harmful and harmless sets")
    cos_harmful = projection_cosines(harmful, directions).double().numpy()
    cos_harmless = projection_cosines(harmless, directions).double().numpy()
    labels = np.concatenate([np.ones(len(cos_harmful)), np.zeros(len(cos_harmless))])
    scores = np.concatenate([cos_harmful, cos_harmless], axis=0)
    auroc = np.array([roc_auc_score(labels, scores[:, slot]) for slot in range(scores.shape[1])])
    return SeparationStats(cos_harmful.mean(0), cos_harmless.mean(0), auroc)
