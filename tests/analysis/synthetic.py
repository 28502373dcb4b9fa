"""Synthetic activations with a known plane geometry, for the analysis tests.

v_harm = e0 and v_ref = e1 at every slot. A class placed at (x, y) has
h(t_inst) = BASE * e2 + x * e0 + noise and h(t_post) = BASE * e3 + y * e1 + noise, so with the
``dot`` measure its plane coordinates are exactly (x, y) plus noise (harmless at (0, 0) and
direct at (1, 1)); with ``cos`` they are nearly so because BASE dominates the norm.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from harc.analysis.plane import ClassActivations
from harc.directions import DirectionSet

HIDDEN = 8
BASE = 10.0


def directions(num_slots: int = 5) -> DirectionSet:
    harm = torch.zeros(num_slots, HIDDEN)
    refusal = torch.zeros(num_slots, HIDDEN)
    harm[:, 0] = 1.0
    refusal[:, 1] = 1.0
    return DirectionSet(harm=harm, refusal=refusal)


def make_classes(
    placement: Mapping[str, tuple[float, float]], *, n: int = 20, noise: float = 0.05,
    num_slots: int = 5, seed: int = 0, separation: Mapping[int, float] | None = None,
) -> list[ClassActivations]:
    """``placement`` maps label -> (x, y); ``harmless`` and ``direct`` default to (0,0), (1,1).
    ``separation[slot]`` scales every class's offset at that slot (default 1)."""
    rng = np.random.default_rng(seed)
    spec = {"harmless": (0.0, 0.0), "direct": (1.0, 1.0), **placement}
    classes = []
    for label, (x, y) in spec.items():
        t_inst = torch.zeros(n, num_slots, HIDDEN)
        t_post = torch.zeros(n, num_slots, HIDDEN)
        for slot in range(num_slots):
            scale = (separation or {}).get(slot, 1.0)
            t_inst[:, slot, 2] = BASE
            t_post[:, slot, 3] = BASE
            t_inst[:, slot, 0] = scale * x
            t_post[:, slot, 1] = scale * y
        t_inst += torch.from_numpy(rng.normal(0, noise, t_inst.shape)).float()
        t_post += torch.from_numpy(rng.normal(0, noise, t_post.shape)).float()
        goals = [None] * n if label == "harmless" else [f"goal {i}" for i in range(n)]
        classes.append(ClassActivations(label, t_inst, t_post, tuple(range(num_slots)),
                                        [f"{label} {i}" for i in range(n)], goals))
    return classes


# The four verdicts, each placed where the rule must find it.
VERDICT_PLACEMENT = {
    "refusal_only": (1.0, 0.0),    # refusal suppressed
    "harm_only": (0.0, 1.0),       # harmfulness suppressed
    "both_axes": (0.1, 0.1),       # both suppressed
    "no_effect": (1.05, 0.95),     # within the threshold on both axes
}
EXPECTED_VERDICTS = {
    "refusal_only": "suppresses refusal",
    "harm_only": "suppresses harmfulness",
    "both_axes": "suppresses both",
    "no_effect": "neither",
}
