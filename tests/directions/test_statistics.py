from __future__ import annotations

import numpy as np
import pytest
import torch

from harc.directions import bootstrap_prompt_cosine, separation
from harc.errors import DirectionError


def _clusters(n: int, center: torch.Tensor, noise: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return center + noise * torch.randn(n, *center.shape, generator=generator)


def test_bootstrap_interval_brackets_estimate_and_tracks_geometry():
    slots, hidden = 3, 8
    harm_axis = torch.zeros(slots, hidden)
    harm_axis[:, 0] = 1.0
    ref_axis = torch.zeros(slots, hidden)
    ref_axis[0, 0] = 1.0  # slot 0: same axis -> cos ~ 1
    ref_axis[1:, 1] = 1.0  # slots 1-2: orthogonal -> cos ~ 0
    harmful_inst = _clusters(60, harm_axis * 3, 0.3, 0)
    harmless_inst = _clusters(60, torch.zeros(slots, hidden), 0.3, 1)
    harmful_post = _clusters(60, ref_axis * 3, 0.3, 2)
    harmless_post = _clusters(60, torch.zeros(slots, hidden), 0.3, 3)
    interval = bootstrap_prompt_cosine(
        harmful_inst, harmful_post, harmless_inst, harmless_post, resamples=100, seed=0
    )
    assert np.all(interval.low <= interval.estimate + 1e-9)
    assert np.all(interval.estimate <= interval.high + 1e-9)
    assert interval.estimate[0] > 0.95
    assert abs(interval.estimate[1]) < 0.2 and abs(interval.estimate[2]) < 0.2
    assert interval.high[1] - interval.low[1] > 0  # resampling actually varies
    again = bootstrap_prompt_cosine(
        harmful_inst, harmful_post, harmless_inst, harmless_post, resamples=100, seed=0
    )
    np.testing.assert_array_equal(interval.low, again.low)


def test_bootstrap_needs_two_per_set():
    one = torch.zeros(1, 2, 3)
    with pytest.raises(DirectionError, match="at least 2"):
        bootstrap_prompt_cosine(one, one, torch.zeros(4, 2, 3), torch.zeros(4, 2, 3))


def test_separation_auroc_perfect_and_chance():
    direction = torch.zeros(2, 4)
    direction[:, 0] = 1.0
    harmful = _clusters(30, torch.tensor([[2.0, 1, 0, 0], [0.0, 1, 0, 0]]), 0.1, 0)
    harmless = _clusters(30, torch.tensor([[-2.0, 1, 0, 0], [0.0, 1, 0, 0]]), 0.1, 1)
    stats = separation(harmful, harmless, direction)
    assert stats.auroc[0] == 1.0
    assert 0.2 < stats.auroc[1] < 0.8
    assert stats.mean_cos_harmful[0] > 0 > stats.mean_cos_harmless[0]
