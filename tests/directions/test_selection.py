from __future__ import annotations

import pytest
import torch

from harc.directions.selection import choose_refusal_slot, middle_slots
from harc.errors import DirectionError


def test_choose_refusal_slot_prefers_the_separating_middle_slot():
    torch.manual_seed(0)
    slots, hidden, n = 9, 16, 20
    refusal = torch.nn.functional.normalize(torch.randn(slots, hidden), dim=-1)
    harmful = torch.randn(n, slots, hidden)
    harmless = torch.randn(n, slots, hidden)
    harmful[:, 5] += 4 * refusal[5]
    harmful[:, 0] += 9 * refusal[0]  # outside the middle: never chosen
    assert middle_slots(slots) == [2, 3, 4, 5, 6]
    assert choose_refusal_slot(refusal, harmful, harmless) == 5


def test_a_zero_refusal_direction_is_never_chosen():
    refusal = torch.zeros(5, 4)
    harmful, harmless = torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    with pytest.raises(DirectionError, match="zero at every slot"):
        choose_refusal_slot(refusal, harmful, harmless)
    refusal[4] = 1.0  # outside the middle, but the only non-zero slot
    assert choose_refusal_slot(refusal, harmful, harmless) == 4
