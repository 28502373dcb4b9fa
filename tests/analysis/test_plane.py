from __future__ import annotations

import numpy as np
import pytest
import torch

from harc.analysis import (
    AnalysisError,
    ClassActivations,
    choose_slot,
    class_geometry,
    plane_points,
    project,
    slot_aurocs,
)
from tests.analysis.synthetic import VERDICT_PLACEMENT, directions, make_classes


@pytest.mark.parametrize("measure", ["dot", "cos"])
def test_classes_land_where_they_were_placed(measure):
    classes = make_classes(VERDICT_PLACEMENT)
    points = plane_points(classes, directions(), slot=2, measure=measure)
    assert points.classes() == ["harmless", "direct", *VERDICT_PLACEMENT]
    np.testing.assert_allclose(points.of("harmless").mean(0), [0, 0], atol=1e-9)
    np.testing.assert_allclose(points.of("direct").mean(0), [1, 1], atol=1e-9)
    for label, where in VERDICT_PLACEMENT.items():
        np.testing.assert_allclose(points.of(label).mean(0), where, atol=0.05)


def test_units_are_the_mean_gap():
    classes = make_classes({}, noise=0.0)
    # Scale the harmful offset: coordinates stay in gap units, so direct is still at 1.
    classes[1].t_inst[:, :, 0] *= 3
    points = plane_points(classes, directions(), slot=1, measure="dot")
    assert points.plane.harm_gap == pytest.approx(3.0)
    np.testing.assert_allclose(points.of("direct")[:, 0], 1.0)


def test_zero_gap_is_a_clear_error():
    classes = make_classes({"x": (0.5, 0.5)}, noise=0.0)
    classes[1].t_post[:] = classes[0].t_post[:]  # direct == harmless on the refusal axis
    with pytest.raises(AnalysisError, match="zero harmful-minus-harmless gap on the refusal"):
        plane_points(classes, directions(), slot=2)


def test_missing_reference_class_is_an_error():
    classes = [c for c in make_classes({"x": (0.5, 0.5)}) if c.label != "direct"]
    with pytest.raises(AnalysisError, match="'direct'"):
        plane_points(classes, directions(), slot=2)


def test_class_activations_validate_shapes():
    with pytest.raises(AnalysisError, match="must both be"):
        ClassActivations("a", torch.zeros(3, 2, 4), torch.zeros(3, 1, 4), (0, 1))
    item = ClassActivations("a", torch.zeros(3, 1, 4), torch.zeros(3, 1, 4), (2,))
    with pytest.raises(AnalysisError, match="not captured at slot 0"):
        item.at(0)


def test_unknown_measure():
    with pytest.raises(AnalysisError, match="unknown measure"):
        project(torch.ones(2, 3), torch.ones(3), "l2")  # type: ignore[arg-type]


def test_slot_choice_prefers_the_best_separating_middle_slot():
    # Offsets are tiny at slots 1 and 3 and full at slot 2; slot 4 is the last, not middle.
    classes = make_classes({}, noise=0.2, separation={1: 0.1, 2: 1.0, 3: 0.1, 4: 5.0})
    aurocs = slot_aurocs(classes[0], classes[1], directions())
    assert set(aurocs) == set(range(5))
    assert aurocs[2][0] > aurocs[1][0] and aurocs[2][1] > aurocs[3][1]
    assert choose_slot(aurocs, num_slots=5) == 2


def test_zero_direction_scores_half():
    d = directions()
    d.refusal[3] = 0.0
    classes = make_classes({})
    assert slot_aurocs(classes[0], classes[1], d)[3][1] == 0.5


def test_geometry_of_an_isotropic_cloud():
    rng = np.random.default_rng(0)
    coords = rng.normal([2.0, -1.0], 0.5, size=(4000, 2))
    geometry = class_geometry(coords)
    np.testing.assert_allclose(geometry["centroid"], [2.0, -1.0], atol=0.05)
    assert geometry["ellipse"]["width"] == pytest.approx(1.0, abs=0.06)
    assert geometry["ellipse"]["height"] == pytest.approx(1.0, abs=0.06)
