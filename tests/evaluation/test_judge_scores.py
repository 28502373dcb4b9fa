from __future__ import annotations

import math

import pytest

from harc.data.labels import LabelledSample
from harc.evaluation.judge_scores import score, score_judge
from harc.judges.base import Verdict


def test_confusion_kappa_and_rates_by_hand() -> None:
    labels = [True, True, True, False, False, False, False, True]
    calls = [True, True, False, False, True, False, False, None]
    s = score(labels, calls)
    assert (s.tp, s.fn, s.fp, s.tn, s.undecided, s.decided) == (2, 1, 1, 3, 1, 7)
    assert s.agreement == pytest.approx(5 / 7)
    assert s.fpr == pytest.approx(1 / 4) and s.fnr == pytest.approx(1 / 3)
    # kappa: p_o = 5/7; judge says yes 3/7, labels yes 3/7 -> p_e = 9/49 + 16/49 = 25/49
    assert s.kappa == pytest.approx((5 / 7 - 25 / 49) / (1 - 25 / 49))
    data = s.to_dict()
    assert data["fpr_ci95"][0] < 0.25 < data["fpr_ci95"][1]


def test_no_positives_gives_nan_not_zero() -> None:
    s = score([False, False], [False, True])
    assert math.isnan(s.fnr) and s.fpr == 0.5


def test_score_judge_groups_and_unlabelled() -> None:
    samples = [LabelledSample("g", "p", "r", h, None, "x", {"attack": a})
               for h, a in [(True, "A"), (False, "A"), (True, "B"), (None, "B")]]
    verdicts = [Verdict(None, c, None, "j") for c in (True, True, False, True)]
    result = score_judge(samples, verdicts, "harmful", by=["attack"])
    assert result["unlabelled"] == 1
    assert result["overall"]["n"] == 3 and result["overall"]["tp"] == 1
    assert result["by"]["attack"]["A"]["fp"] == 1
    assert result["by"]["attack"]["B"]["fn"] == 1
