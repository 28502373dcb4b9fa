"""Analysis of the harmfulness-refusal plane: where jailbreaks sit, what they suppress, whether
attack classes separate, whether the answer side still recognises harm, and how directions
transfer between models or checkpoints (HARC_METHOD §1, claims 1-3 and 6)."""

from __future__ import annotations

from harc.analysis.capture import PairCapture, capture_pairs
from harc.analysis.errors import AnalysisError
from harc.analysis.outcome import Outcome, is_jailbreak, link_outcome
from harc.analysis.plane import (
    DIRECT,
    HARMLESS,
    ClassActivations,
    Plane,
    PlanePoints,
    choose_slot,
    class_geometry,
    fit_plane,
    plane_points,
    project,
    slot_aurocs,
)
from harc.analysis.response import (
    Recognition,
    ResponseAxis,
    fit_response_axis,
    recognition,
    token_projections,
)
from harc.analysis.separability import Separability, attack_separability, class_separability
from harc.analysis.suppression import (
    ClassShift,
    Shift,
    SuppressionRule,
    attack_shifts,
)
from harc.analysis.sweep import sweep_slots
from harc.analysis.transfer import (
    TransferResult,
    compare_directions,
    compare_profile,
    direction_cosines,
)

__all__ = [
    "DIRECT",
    "HARMLESS",
    "AnalysisError",
    "ClassActivations",
    "ClassShift",
    "Outcome",
    "PairCapture",
    "Plane",
    "PlanePoints",
    "Recognition",
    "ResponseAxis",
    "Separability",
    "Shift",
    "SuppressionRule",
    "TransferResult",
    "attack_separability",
    "attack_shifts",
    "capture_pairs",
    "choose_slot",
    "class_geometry",
    "class_separability",
    "compare_directions",
    "compare_profile",
    "direction_cosines",
    "fit_plane",
    "fit_response_axis",
    "is_jailbreak",
    "link_outcome",
    "plane_points",
    "project",
    "recognition",
    "slot_aurocs",
    "sweep_slots",
    "token_projections",
]
