"""HARC loss terms (HARC_METHOD §6). Pure functions of tensors: no model, no hooks.

Shapes: ``hidden`` is ``[batch, slots_selected, hidden]`` (residuals gathered at one position or
averaged over the response window), ``direction`` is ``[slots_selected, hidden]`` and carries no
gradient. Hinge terms are averaged over selected layers and samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def direction_cosine(hidden: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """cos(h[b, l], v[l]) -> ``[batch, layers]``; the direction is detached."""
    return F.cosine_similarity(hidden.float(), direction.detach().float().unsqueeze(0), dim=-1)


def coupling_hinge(
    cos_refusal: torch.Tensor, cos_harm: torch.Tensor, is_harmful: torch.Tensor, margin: float
) -> torch.Tensor:
    """Harmful rows: relu(m - c_ref) + relu(m - c_harm). Retain rows: relu(c_ref) + relu(c_harm).

    ``cos_*`` are ``[batch, layers]``; ``is_harmful`` is a bool ``[batch]``. Returns the mean over
    rows and layers (0 for an empty batch).
    """
    if cos_refusal.numel() == 0:
        return cos_refusal.sum()
    harmful = is_harmful.unsqueeze(-1)
    push_up = F.relu(margin - cos_refusal) + F.relu(margin - cos_harm)
    push_down = F.relu(cos_refusal) + F.relu(cos_harm)
    return torch.where(harmful, push_up, push_down).mean()


def token_mean_kl(
    base_logits: torch.Tensor, tuned_logits: torch.Tensor, token_mask: torch.Tensor
) -> torch.Tensor:
    """KL(base || tuned) per token, averaged over tokens where ``token_mask`` is set.

    Logits are ``[batch, positions, vocab]``; ``token_mask`` is ``[batch, positions]``.
    """
    mask = token_mask.bool()
    if not bool(mask.any()):
        return tuned_logits.sum() * 0.0
    base_log_probs = F.log_softmax(base_logits[mask].float(), dim=-1)
    tuned_log_probs = F.log_softmax(tuned_logits[mask].float(), dim=-1)
    per_token = F.kl_div(tuned_log_probs, base_log_probs, log_target=True, reduction="none").sum(-1)
    return per_token.mean()


def next_token_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, target_mask: torch.Tensor
) -> torch.Tensor:
    """Mean CE of ``logits[b, t]`` predicting ``targets[b, t]`` where ``target_mask`` is set.

    Callers pass logits already aligned with their targets (logit at t predicts token t+1).
    """
    mask = target_mask.bool()
    if not bool(mask.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[mask].float(), targets[mask])


def total_loss(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Weighted sum of the named terms; a weight for a missing term is an error."""
    unknown = weights.keys() - terms.keys()
    if unknown:
        raise KeyError(f"weights for terms that were not computed: {sorted(unknown)}")
    return sum(weights[name] * value for name, value in terms.items() if name in weights)
