from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harc.directions import DirectionSet
from harc.errors import DirectionError
from harc.training.schedule import blend_directions, drift, layer_scores, select_layers, top_k_at


def _crafted(n_slots: int = 14, hidden: int = 4) -> DirectionSet:
    """Orthogonal harm/refusal everywhere; response directions aligned with the prompt ones only
    at slots 6 and 8 (partly at 7), so those must score highest."""
    e = torch.eye(hidden)
    harm = e[0].expand(n_slots, hidden).clone()
    refusal = e[1].expand(n_slots, hidden).clone()
    harm_resp = e[2].expand(n_slots, hidden).clone()
    refusal_resp = e[3].expand(n_slots, hidden).clone()
    for slot in (6, 8):
        harm_resp[slot], refusal_resp[slot] = e[0], e[1]
    harm_resp[7] = F.normalize(e[0] + e[2], dim=0)
    refusal_resp[7] = F.normalize(e[1] + e[3], dim=0)
    harm_resp[1], refusal_resp[1] = e[0], e[1]  # perfect but excluded (first 4 slots)
    return DirectionSet(harm=harm, refusal=refusal, harm_resp=harm_resp, refusal_resp=refusal_resp)


def test_scores_on_crafted_geometry():
    scores = layer_scores(_crafted())
    assert scores[6].item() == pytest.approx(1.0) and scores[8].item() == pytest.approx(1.0)
    assert scores[7].item() == pytest.approx(0.5)
    assert scores[5].item() == pytest.approx(0.0)


def test_selection_excludes_first_and_last_and_takes_top_k():
    directions = _crafted()
    assert select_layers(directions, 2) == [6, 8]
    assert select_layers(directions, 3) == [6, 7, 8]
    assert select_layers(directions, 2, exclude_first=0, exclude_last=0)[0] == 1
    assert select_layers(directions, 2, exclude_last=6) == [6, 7]  # slot 8 now excluded


def test_selection_errors():
    directions = _crafted(n_slots=9)
    with pytest.raises(DirectionError, match="cannot pick"):
        select_layers(directions, 2)
    no_response = DirectionSet(harm=torch.eye(4)[:3], refusal=torch.eye(4)[1:])
    with pytest.raises(DirectionError, match="response-side"):
        select_layers(no_response, 1)


def test_top_k_ramp():
    assert [top_k_at(step, 2, 4, 1000) for step in (0, 999, 1000, 2000)] == [2, 2, 4, 4]


def test_blend_is_toward_base_and_unit():
    base = _crafted()
    fresh = DirectionSet(
        harm=base.refusal.clone(),
        refusal=base.harm.clone(),
        harm_resp=base.harm_resp.clone(),
        refusal_resp=base.refusal_resp.clone(),
    )
    blended = blend_directions(base, fresh, 0.7)
    expected = F.normalize(0.7 * base.harm + 0.3 * base.refusal, dim=-1)
    torch.testing.assert_close(blended.harm, expected)
    torch.testing.assert_close(blended.harm.norm(dim=-1), torch.ones(14))
    torch.testing.assert_close(blended.harm_resp, base.harm_resp)
    again = blend_directions(base, fresh, 0.7)  # blending twice from base is idempotent
    torch.testing.assert_close(again.harm, blended.harm)
    assert blend_directions(base, fresh, 1.0).harm.equal(base.harm)


def test_drift_reports_cosine_to_base():
    base = _crafted()
    moved = blend_directions(base, DirectionSet(harm=base.refusal, refusal=base.refusal), 0.5)
    result = drift(base, moved, [6])
    assert result["refusal"] == [pytest.approx(1.0)]
    assert result["harm"] == [pytest.approx(2**-0.5, abs=1e-5)]
