"""Harm recognition at response positions: cos(h, v_harm_resp) along each generated answer.

v_harm_resp at the analysis slot is fitted here (HARC_METHOD §4): unit(mean harmful-answer
window mean - mean helpful-answer window mean), the window being the first ``window`` answer
tokens. The harmful midpoint is halfway between the mean per-token projection of helpful and
of harmful reference answers. Those two means are *cross-fitted* (each reference answer is
projected on a direction fitted without its fold): in-sample projections of a
difference-of-means direction in a few hundred dimensions are inflated, which would move the
midpoint. An answer *crosses* when any of its first ``window`` tokens projects above it
(``any_token``) or, less noisily, when the mean over those tokens does (``window_mean``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from harc.analysis.errors import AnalysisError
from harc.analysis.plane import HARMLESS, PlanePoints

REFERENCE_KINDS = ("harmful", "refusal", "helpful")


def window_means(tokens: Sequence[torch.Tensor], window: int, name: str) -> torch.Tensor:
    """[N, D]: mean of each answer's first ``window`` token residuals."""
    if not tokens:
        raise AnalysisError(f"no {name} answers")
    empty = sum(1 for item in tokens if item.shape[0] == 0)
    if empty:
        raise AnalysisError(f"{empty} {name} answer(s) have no tokens")
    return torch.stack([item[:window].double().mean(0) for item in tokens])


def token_projections(tokens: Sequence[torch.Tensor], direction: torch.Tensor) -> list[np.ndarray]:
    """cos(h_t, direction) for every token of every answer."""
    unit = direction.double().unsqueeze(0)
    return [
        torch.nn.functional.cosine_similarity(item.double(), unit, dim=-1).numpy()
        if item.shape[0] else np.zeros(0)
        for item in tokens
    ]


def _unit(vector: torch.Tensor, what: str) -> torch.Tensor:
    norm = vector.norm()
    if not bool(torch.isfinite(norm)) or float(norm) < 1e-12:
        raise AnalysisError(f"zero mean gap between {what}: no response direction")
    return vector / norm


@dataclass
class ResponseAxis:
    """v_harm_resp (and v_ref_resp) at one slot with the calibrated harmful midpoint."""

    slot: int
    window: int
    direction: torch.Tensor
    refusal_direction: torch.Tensor
    helpful_mean: float
    harmful_mean: float
    refusal_mean: float
    folds: int
    counts: dict[str, int]
    reference: dict[str, list[np.ndarray]] = field(repr=False, default_factory=dict)

    @property
    def midpoint(self) -> float:
        return (self.helpful_mean + self.harmful_mean) / 2

    @property
    def separates(self) -> bool:
        """Do held-out harmful answers project above held-out helpful ones on average?"""
        return self.harmful_mean > self.helpful_mean

    def summary(self) -> dict[str, Any]:
        return {
            "slot": self.slot, "window": self.window, "helpful_mean": self.helpful_mean,
            "harmful_mean": self.harmful_mean, "refusal_mean": self.refusal_mean,
            "midpoint": self.midpoint, "separates": self.separates, "folds": self.folds,
            "counts": self.counts,
            "cos_harm_resp_ref_resp": float(torch.dot(self.direction, self.refusal_direction)),
        }


def fit_response_axis(
    harmful: Sequence[torch.Tensor], helpful: Sequence[torch.Tensor],
    refusal: Sequence[torch.Tensor], slot: int, *, window: int = 32, folds: int = 5,
    seed: int = 0,
) -> ResponseAxis:
    """Fit the response axis from per-token reference residuals (lists of [T_i, D])."""
    harm_w = window_means(harmful, window, "harmful reference")
    help_w = window_means(helpful, window, "helpful reference")
    ref_w = window_means(refusal, window, "refusal reference")
    direction = _unit(harm_w.mean(0) - help_w.mean(0), "harmful and helpful answers")
    refusal_direction = _unit(ref_w.mean(0) - help_w.mean(0), "refusals and helpful answers")
    k = min(folds, len(harmful), len(helpful))
    if k >= 2:
        harm_proj, help_proj = _cross_fitted(harmful, helpful, harm_w, help_w, k, seed)
    else:  # too few answers to hold any out: in-sample, reported as folds = 0
        harm_proj = token_projections(harmful, direction)
        help_proj = token_projections(helpful, direction)
    ref_proj = token_projections(refusal, direction)

    def answer_mean(traces: list[np.ndarray]) -> float:
        return float(np.mean([trace[:window].mean() for trace in traces]))

    return ResponseAxis(
        slot, window, direction.float(), refusal_direction.float(), answer_mean(help_proj),
        answer_mean(harm_proj), answer_mean(ref_proj), k if k >= 2 else 0,
        {"harmful": len(harmful), "helpful": len(helpful), "refusal": len(refusal)},
        {"harmful": harm_proj, "helpful": help_proj, "refusal": ref_proj},
    )


def _cross_fitted(
    harmful: Sequence[torch.Tensor], helpful: Sequence[torch.Tensor], harm_w: torch.Tensor,
    help_w: torch.Tensor, k: int, seed: int,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-token projections of each answer on a direction fitted without its fold."""
    rng = np.random.default_rng(seed)
    harm_fold = rng.permutation(len(harmful)) % k
    help_fold = rng.permutation(len(helpful)) % k
    harm_proj: list[np.ndarray] = [np.zeros(0)] * len(harmful)
    help_proj: list[np.ndarray] = [np.zeros(0)] * len(helpful)
    for fold in range(k):
        fitted = _unit(harm_w[harm_fold != fold].mean(0) - help_w[help_fold != fold].mean(0),
                       "harmful and helpful answers (one fold)")
        for tokens, folds, out in ((harmful, harm_fold, harm_proj),
                                   (helpful, help_fold, help_proj)):
            rows = np.flatnonzero(folds == fold)
            for row, values in zip(rows, token_projections([tokens[r] for r in rows], fitted),
                                   strict=True):
                out[row] = values
    return harm_proj, help_proj


def first_crossing(trace: np.ndarray, midpoint: float, window: int) -> int | None:
    above = np.flatnonzero(trace[:window] > midpoint)
    return int(above[0]) if above.size else None


def mean_curve(traces: Sequence[np.ndarray], length: int) -> dict[str, list[float | None]]:
    """Mean projection per answer-token index over the answers that reach it."""
    means: list[float | None] = []
    counts = []
    for t in range(length):
        values = [trace[t] for trace in traces if trace.shape[0] > t]
        means.append(float(np.mean(values)) if values else None)
        counts.append(len(values))
    return {"mean": means, "count": counts}


RULES = ("any_token", "window_mean")


def crosses(trace: np.ndarray, midpoint: float, window: int, rule: str) -> bool:
    """``any_token``: some token of the window projects above the midpoint (the issue's rule;
    noisy per token). ``window_mean``: the window's mean projection does (the statistic the
    direction and the midpoint are defined on)."""
    head = trace[:window]
    if head.size == 0:
        return False
    if rule == "any_token":
        return bool((head > midpoint).any())
    if rule == "window_mean":
        return bool(head.mean() > midpoint)
    raise AnalysisError(f"unknown crossing rule {rule!r}; use one of {RULES}")


@dataclass
class Recognition:
    """How often a jailbreak that looked harmless at the prompt is recognised in the answer.

    ``n_hidden[rule]``: successes whose prompt harm coordinate is below ``prompt_threshold``
    and whose answer crosses the midpoint by ``rule``; ``rates[rule][group]``: share of a
    group's answers that cross (the helpful group gives the false-alarm rate);
    ``auroc[name]``: AUROC of the window-mean projection, jailbroken (or only the
    harmless-looking jailbroken) answers against helpful answers.
    """

    axis: ResponseAxis
    prompt_threshold: float
    n_success: int
    n_success_prompt_harmless: int
    n_hidden: dict[str, int]
    rates: dict[str, dict[str, float | None]]
    auroc: dict[str, float | None]
    curves: dict[str, dict[str, list[float | None]]]
    items: list[dict[str, Any]]

    def fraction(self, rule: str = "any_token") -> float | None:
        return self.n_hidden[rule] / self.n_success if self.n_success else None

    def fraction_of_prompt_harmless(self, rule: str = "any_token") -> float | None:
        n = self.n_success_prompt_harmless
        return self.n_hidden[rule] / n if n else None

    def summary(self) -> dict[str, Any]:
        return {
            "axis": self.axis.summary(), "prompt_threshold": self.prompt_threshold,
            "n_success": self.n_success,
            "n_success_prompt_harmless": self.n_success_prompt_harmless,
            "n_hidden": self.n_hidden,
            "fraction": {rule: self.fraction(rule) for rule in RULES},
            "fraction_of_prompt_harmless": {
                rule: self.fraction_of_prompt_harmless(rule) for rule in RULES},
            "rates": self.rates, "auroc": self.auroc,
        }


def recognition(
    axis: ResponseAxis, points: PlanePoints, success: Sequence[bool],
    tokens: Sequence[torch.Tensor], *, prompt_threshold: float = 0.5, harmless: str = HARMLESS,
) -> Recognition:
    """``tokens[i]`` are the answer-token residuals (at ``axis.slot``) of plane point ``i``."""
    if not len(success) == len(tokens) == len(points.labels):
        raise AnalysisError(
            f"{len(points.labels)} plane points, {len(success)} outcomes, {len(tokens)} answers")
    traces = token_projections(tokens, axis.direction)
    groups: dict[str, list[np.ndarray]] = {"jailbroken": [], "attacked, refused": [],
                                           "helpful (harmless prompts)": []}
    hidden: list[np.ndarray] = []
    items = []
    n_success = 0
    for label, coords, won, trace in zip(points.labels, points.coords, success, traces,
                                         strict=True):
        if label == harmless:
            if won:
                groups["helpful (harmless prompts)"].append(trace)
        elif won:
            groups["jailbroken"].append(trace)
            n_success += 1
            if coords[0] < prompt_threshold:
                hidden.append(trace)
        else:
            groups["attacked, refused"].append(trace)
        items.append({"label": label, "success": bool(won), "prompt_harm": float(coords[0]),
                      "window_mean": float(trace[:axis.window].mean()) if trace.size else None,
                      "crossed_at": first_crossing(trace, axis.midpoint, axis.window),
                      "projection": [float(v) for v in trace]})
    everything = {**groups, **{f"reference {k}": axis.reference.get(k, [])
                               for k in REFERENCE_KINDS}}
    curves = {name: mean_curve(group, axis.window) for name, group in everything.items()}

    def rate(group: list[np.ndarray], rule: str) -> float | None:
        kept = [t for t in group if t.size]
        return float(np.mean([crosses(t, axis.midpoint, axis.window, rule) for t in kept])) \
            if kept else None

    helpful = groups["helpful (harmless prompts)"]
    return Recognition(
        axis, prompt_threshold, n_success, len(hidden),
        {rule: sum(crosses(t, axis.midpoint, axis.window, rule) for t in hidden)
         for rule in RULES},
        {rule: {name: rate(group, rule) for name, group in everything.items()}
         for rule in RULES},
        {"jailbroken vs helpful": _auroc(groups["jailbroken"], helpful, axis.window),
         "harmless-looking jailbroken vs helpful": _auroc(hidden, helpful, axis.window)},
        curves, items)


def _auroc(positive: list[np.ndarray], negative: list[np.ndarray], window: int) -> float | None:
    pos = [t[:window].mean() for t in positive if t.size]
    neg = [t[:window].mean() for t in negative if t.size]
    if not pos or not neg:
        return None
    return float(roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg))
