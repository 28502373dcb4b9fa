"""CAST's calibration: the condition's grid search and the behaviour strength (alpha).

Grid search. ``(L*, threshold, sign)`` maximise the F1 of firing on the VALIDATION harmful
prompts (positives) against the validation harmless ones (``TrainingData.validation_*``,
never an evaluation set). Thresholds are the midpoints between consecutive validation scores
at that slot; ties go to the lower false-positive rate, then the wider margin (distance from
the threshold to the nearest validation score), then the shallower slot.

Alpha: the smallest value of ``alpha_grid`` with which steering, forced on, makes at least
``target_refusal`` of the calibration prompts refuse (keyword judge); the best one when none
does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from harc.activations import CaptureSpec, at_position, capture
from harc.errors import HarcError
from harc.judges import refusal_match
from harc.methods.steering import generate_ids, masked_mean
from harc.models.blocks import num_residual_slots
from harc.positions import Batch, ChatFormat

if TYPE_CHECKING:
    from harc.methods.cast import CastConfig, CastDefence


@dataclass(frozen=True)
class ConditionChoice:
    slot: int
    threshold: float
    sign: int  # +1: fires when the cosine is above the threshold, -1: below
    f1: float
    tpr: float
    fpr: float
    margin: float
    best_f1_per_slot: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grid_search(
    harmful: torch.Tensor, harmless: torch.Tensor, slots: Sequence[int],
    signs: Sequence[int] = (1, -1),
) -> ConditionChoice:
    """Best (slot, threshold, sign) for condition scores ``[N, len(slots)]`` (column k is
    ``slots[k]``), by F1 of firing on ``harmful`` and not on ``harmless`` (see the module doc)."""
    if harmful.shape[0] == 0 or harmless.shape[0] == 0:
        raise HarcError("the CAST grid search needs validation harmful and harmless prompts")
    best: tuple[tuple[float, ...], ConditionChoice] | None = None
    per_slot: dict[str, float] = {}
    for column, slot in enumerate(slots):
        pos = harmful[:, column].double().numpy()
        neg = harmless[:, column].double().numpy()
        values = np.unique(np.concatenate([pos, neg]))
        thresholds = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2,
                                     [values[-1] + 1e-6]])
        margin = np.abs(np.concatenate([pos, neg])[None, :] - thresholds[:, None]).min(axis=1)
        for sign in signs:
            tp = (sign * (pos[None, :] - thresholds[:, None]) > 0).sum(axis=1)
            fp = (sign * (neg[None, :] - thresholds[:, None]) > 0).sum(axis=1)
            f1 = 2 * tp / np.maximum(2 * tp + fp + (len(pos) - tp), 1)
            fpr = fp / len(neg)
            per_slot[str(slot)] = max(per_slot.get(str(slot), 0.0), float(f1.max()))
            for k in range(len(thresholds)):
                key = (round(float(f1[k]), 12), -round(float(fpr[k]), 12),
                       round(float(margin[k]), 12), -slot)
                if best is None or key > best[0]:
                    best = (key, ConditionChoice(slot, float(thresholds[k]), int(sign),
                                                 float(f1[k]), float(tp[k] / len(pos)),
                                                 float(fpr[k]), float(margin[k])))
    assert best is not None
    return ConditionChoice(**{**asdict(best[1]), "best_f1_per_slot": per_slot})


def _prompt_mean(hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
    return masked_mean(hidden, batch.attention_mask)


def prompt_stats(
    model: torch.nn.Module, chat: ChatFormat, prompts: Sequence[str], *, batch_size: int = 8,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """``{"mean": prompt-token mean, "t_post": last prompt token}``, each ``[N, slots, D]``."""
    pad = chat.tokenizer.pad_token_id
    pad = pad if pad is not None else chat.tokenizer.eos_token_id
    spec = CaptureSpec({"mean": _prompt_mean, "t_post": at_position("t_post")},
                       tuple(range(num_residual_slots(model))))
    return capture(model, [chat.encode(p) for p in prompts], spec, pad_token_id=int(pad),
                   batch_size=batch_size, desc="prompt statistics", progress=progress)


def refusal_rate(texts: Sequence[str]) -> float:
    """Fraction of texts that are empty or contain a refusal phrase (keyword judge)."""
    return sum(not t.strip() or refusal_match(t) is not None for t in texts) / max(len(texts), 1)


def calibrate_alpha(
    build: Callable[[float], CastDefence], prompts: Sequence[str], config: CastConfig
) -> tuple[float, list[dict[str, float]]]:
    """The smallest alpha reaching ``target_refusal`` with the gate forced on (module doc)."""
    table: list[dict[str, float]] = []
    for alpha in sorted(config.alpha_grid):
        defence = build(alpha)
        ids = generate_ids(defence.model, defence.tokenizer, defence.chat, prompts,
                           max_new_tokens=config.calibration_new_tokens,
                           batch_size=config.batch_size,
                           context=lambda defence=defence: defence.context(force=True))
        texts = [defence.tokenizer.decode(row, skip_special_tokens=True) for row in ids]
        table.append({"alpha": alpha, "refusal_rate": refusal_rate(texts)})
        if table[-1]["refusal_rate"] >= config.target_refusal:
            return alpha, table
    best = max(table, key=lambda row: (row["refusal_rate"], -row["alpha"]))
    return best["alpha"], table
