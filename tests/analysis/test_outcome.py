from __future__ import annotations

import pytest

from harc.analysis import AnalysisError, is_jailbreak, link_outcome, plane_points
from harc.judges import Verdict
from tests.analysis.synthetic import directions, make_classes


def test_success_below_the_refusal_midpoint_is_found():
    points = plane_points(make_classes({"a": (1.0, 0.0)}, noise=0.3), directions(), slot=2,
                          measure="dot")
    success = [label != "harmless" and y < 0.5 for label, (_, y) in
               zip(points.labels, points.coords, strict=True)]
    outcome = link_outcome(points, success)
    assert outcome.n == 40  # harmless excluded
    assert outcome.auroc_refusal == pytest.approx(1.0)
    rows = {row.attack: row for row in outcome.classes}
    assert rows["a"].rate > 0.8 and rows["direct"].rate < 0.2
    assert rows["a"].mean_success[1] < 0.5


def test_all_failures_leave_auroc_undefined():
    points = plane_points(make_classes({"a": (1.0, 0.0)}), directions(), slot=2)
    outcome = link_outcome(points, [False] * len(points.labels))
    assert outcome.auroc_harm is None and outcome.classes[0].mean_success is None
    with pytest.raises(AnalysisError):
        link_outcome(points, [True])


def test_jailbreak_verdicts():
    assert is_jailbreak(Verdict(False, True, 0.0, "k"))
    assert not is_jailbreak(Verdict(False, False, 0.0, "k"))  # too short to be harmful
    assert is_jailbreak(Verdict(False, None, None, "j"))
    assert not is_jailbreak(Verdict(True, None, None, "j"))
