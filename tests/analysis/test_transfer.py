from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harc.analysis import AnalysisError, compare_directions, compare_profile, direction_cosines
from harc.analysis.transfer import load_directions
from harc.directions import DirectionSet


def _set(slots: int, hidden: int, seed: int, response: bool = False) -> DirectionSet:
    generator = torch.Generator().manual_seed(seed)
    unit = torch.nn.functional.normalize
    harm = unit(torch.randn(slots, hidden, generator=generator), dim=-1)
    refusal = unit(torch.randn(slots, hidden, generator=generator), dim=-1)
    extra = {}
    if response:
        extra = {"harm_resp": unit(torch.randn(slots, hidden, generator=generator), dim=-1),
                 "refusal_resp": unit(torch.randn(slots, hidden, generator=generator), dim=-1)}
    norms = torch.linspace(1, 5, slots)
    return DirectionSet(harm=harm, refusal=refusal, harm_norm=norms, refusal_norm=norms ** 2,
                        **extra)


def test_same_space_cosines(tmp_path):
    a = _set(6, 16, 0, response=True)
    flipped = DirectionSet(harm=-a.harm, refusal=a.refusal.clone(), harm_resp=a.harm_resp,
                           refusal_resp=a.refusal_resp)
    cos = direction_cosines(a, flipped)
    assert set(cos) == {"harm", "refusal", "harm_resp", "refusal_resp"}
    np.testing.assert_allclose(cos["harm"], -1.0, atol=1e-6)
    np.testing.assert_allclose(cos["refusal"], 1.0, atol=1e-6)
    a.save(tmp_path / "start")
    flipped.save(tmp_path / "end")
    result = compare_directions(tmp_path / "start.safetensors", tmp_path / "end.safetensors")
    assert result.same_space
    assert result.summary()["mean_cosine"]["harm"] == pytest.approx(-1.0)


def test_zero_direction_slot_is_undefined():
    a = _set(4, 8, 0)
    a.refusal[0] = 0.0
    assert direction_cosines(a, a)["refusal"][0] is None


def test_two_sizes_compare_profiles(tmp_path):
    small, large = _set(9, 16, 1), _set(17, 32, 2)
    for path, item in (("small", small), ("large", large)):
        (tmp_path / path).mkdir()
        item.save(tmp_path / path / "directions")
        stats = {"per_slot": [{"slot": s, "auroc_harm": 0.5 + 0.4 * s / (item.num_slots - 1),
                               "auroc_refusal": 0.6} for s in range(item.num_slots)]}
        (tmp_path / path / "direction_stats.json").write_text(json.dumps(stats))
    with pytest.raises(AnalysisError, match="different spaces"):
        direction_cosines(small, large)
    result = compare_directions(tmp_path / "small", tmp_path / "large")
    assert not result.same_space and not result.cosines
    # Gap-norm profiles are the same curve against relative depth.
    assert result.profiles["harm gap norm / max"]["pearson_r"] == pytest.approx(1.0)
    assert result.profiles["auroc_harm"]["pearson_r"] == pytest.approx(1.0)
    assert result.profiles["auroc_refusal"]["pearson_r"] is None  # constant curves


def test_profile_interpolation():
    curve = compare_profile(np.array([0.0, 1.0]), np.array([0.0, 0.5, 1.0]), grid_points=5)
    np.testing.assert_allclose(curve["a"], curve["b"])
    with pytest.raises(AnalysisError, match="fewer than 2"):
        compare_profile(np.array([np.nan, 1.0, np.nan]), np.array([0.0, 1.0]))


def test_directory_without_directions_names_its_files(tmp_path):
    _set(3, 4, 0).save(tmp_path / "directions_start")
    with pytest.raises(AnalysisError, match=r"directions_start\.safetensors"):
        load_directions(tmp_path)
    assert load_directions(tmp_path / "directions_start.safetensors").stats is None


def test_layer_choice_and_score_profile_at_two_sizes(tmp_path):
    from harc.analysis.report import render_transfer
    from harc.directions.selection import select_layers

    small, large = _set(13, 16, 3, response=True), _set(25, 32, 4, response=True)
    small.save(tmp_path / "small")
    large.save(tmp_path / "large")
    result = compare_directions(tmp_path / "small.safetensors", tmp_path / "large.safetensors")
    assert "HARC layer score / max" in result.profiles
    assert result.selected["a"]["top2"]["slots"] == select_layers(small, 2)
    assert result.selected["b"]["top4"]["slots"] == select_layers(large, 4)
    slot = result.selected["b"]["top2"]["slots"][0]
    assert result.selected["b"]["top2"]["depth"][0] == pytest.approx(slot / 24, abs=1e-3)
    assert "HARC's layer choice" in render_transfer(result)
