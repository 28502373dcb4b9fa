"""Bootstrap intervals for cos(v_harm, v_ref) and held-out projection statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
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
    """Percentile bootstrap (``scipy.stats.bootstrap``, seeded): resample both prompt sets with
    replacement (the same prompts for t_inst and t_post) and recompute cos(v_harm[L], v_ref[L])
    per slot. Inputs are ``[N, slots, hidden]``. Slots where either direction is undefined (zero
    mean gap, e.g. t_post at the embeddings) are NaN."""
    n_harmful, n_harmless = harmful_t_inst.shape[0], harmless_t_inst.shape[0]
    if n_harmful < 2 or n_harmless < 2:
        raise DirectionError(
            f"bootstrap needs at least 2 prompts per set, got {n_harmful} and {n_harmless}"
        )

    def cosine(rows_harmful: np.ndarray, rows_harmless: np.ndarray, axis: int) -> np.ndarray:
        # The samples are prompt indices, so t_inst and t_post share each resample's prompts;
        # one resample per call ([1, N] rows) keeps memory at one gathered prompt set.
        harmful, harmless = torch.as_tensor(rows_harmful), torch.as_tensor(rows_harmless)
        harm = harmful_t_inst[harmful].mean(-3) - harmless_t_inst[harmless].mean(-3)
        refusal = harmful_t_post[harmful].mean(-3) - harmless_t_post[harmless].mean(-3)
        cos = torch.nn.functional.cosine_similarity(harm, refusal, dim=-1)  # [batch, slots]
        return cos.double().numpy().T

    interval = stats.bootstrap(
        (np.arange(n_harmful), np.arange(n_harmless)), cosine, n_resamples=resamples,
        batch=1, vectorized=True, confidence_level=level, method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    low, high = np.array(interval.low, dtype=float), np.array(interval.high, dtype=float)
    harm, harm_norm = mean_difference(harmful_t_inst, harmless_t_inst)
    refusal, refusal_norm = mean_difference(harmful_t_post, harmless_t_post)
    point = torch.nn.functional.cosine_similarity(harm, refusal, dim=-1).double().numpy()
    undefined = ((harm_norm == 0) | (refusal_norm == 0)).numpy()
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
