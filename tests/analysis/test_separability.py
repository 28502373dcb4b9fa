from __future__ import annotations

import numpy as np
import pytest

from harc.analysis import AnalysisError, attack_separability, class_separability, plane_points
from tests.analysis.synthetic import directions, make_classes


def test_separated_classes_are_recovered():
    placement = {"a": (1.0, 0.0), "b": (0.0, 1.0), "c": (0.0, 0.0)}
    points = plane_points(make_classes(placement, noise=0.05), directions(), slot=2,
                          measure="dot")
    result = attack_separability(points)
    assert result.classes == ["direct", "a", "b", "c"]  # harmless left out
    assert result.n == 80 and result.folds == 5
    assert result.chance == pytest.approx(0.25)
    assert result.accuracy > 0.95
    assert np.trace(np.array(result.confusion)) == pytest.approx(result.accuracy * 80)
    assert all(value > 0.9 for value in result.recall.values())


def test_overlapping_classes_sit_near_chance():
    placement = {"a": (1.0, 1.0), "b": (1.0, 1.0), "c": (1.0, 1.0)}
    points = plane_points(make_classes(placement, noise=0.3, n=30), directions(), slot=2,
                          measure="dot")
    result = attack_separability(points)
    assert result.accuracy < 0.5


def test_chance_is_the_majority_rate():
    coords = np.r_[np.zeros((6, 2)), np.ones((2, 2))]
    result = class_separability(coords, ["x"] * 6 + ["y"] * 2)
    assert result.chance == pytest.approx(0.75) and result.majority_class == "x"
    assert result.folds == 2


def test_degenerate_inputs_raise():
    with pytest.raises(AnalysisError, match="at least two classes"):
        class_separability(np.zeros((4, 2)), ["a"] * 4)
    with pytest.raises(AnalysisError, match="fewer than 2"):
        class_separability(np.zeros((4, 2)), ["a", "a", "a", "b"])
    with pytest.raises(AnalysisError, match="NaN"):
        class_separability(np.full((4, 2), np.nan), ["a", "a", "b", "b"])
    with pytest.raises(AnalysisError, match="do not match"):
        class_separability(np.zeros((3, 2)), ["a", "b"])
