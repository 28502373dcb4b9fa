from __future__ import annotations

import math

import pytest

from harc.errors import HarcError
from harc.evaluation.significance import (
    holm,
    mcnemar,
    minimum_detectable_difference,
    minimum_detectable_shift,
    pair_samples,
    paired_bootstrap,
)


def outcomes(only_base: int, only_other: int, both: int = 0, neither: int = 0
             ) -> tuple[list[bool], list[bool]]:
    base = [True] * only_base + [False] * only_other + [True] * both + [False] * neither
    other = [False] * only_base + [True] * only_other + [True] * both + [False] * neither
    return base, other


def test_mcnemar_exact_against_hand_computed_cases():
    # 10 vs 2 discordant: p = 2 * P(X <= 2 | n=12, 1/2) = 2 * (1 + 12 + 66) / 4096.
    result = mcnemar(*outcomes(10, 2, both=5, neither=3))
    assert result.p == pytest.approx(2 * 79 / 4096) and round(result.p, 4) == 0.0386
    assert (result.n, result.only_base, result.only_other) == (20, 10, 2)
    assert result.difference == pytest.approx(-8 / 20)
    assert mcnemar(*outcomes(2, 10)).p == pytest.approx(result.p)  # symmetric
    # 5 vs 0: p = 2 * (1/2)^5 = 0.0625; 6 vs 0: 0.03125.
    assert mcnemar(*outcomes(0, 5)).p == pytest.approx(0.0625)
    assert mcnemar(*outcomes(0, 6)).p == pytest.approx(0.03125)
    assert mcnemar(*outcomes(3, 3)).p == pytest.approx(1.0)


def test_mcnemar_all_ties_and_empty():
    tied = mcnemar(*outcomes(0, 0, both=7, neither=4))
    assert tied.p == 1.0 and tied.difference == 0.0 and tied.n == 11
    empty = mcnemar([], [])
    assert empty.p == 1.0 and empty.n == 0 and math.isnan(empty.difference)
    with pytest.raises(HarcError, match="different lengths"):
        mcnemar([True], [])


def test_bootstrap_of_identical_samples():
    values = [0.0, 1.0, 1.0, 0.5, 0.2]
    result = paired_bootstrap(values, values)
    assert (result.difference, result.low, result.high, result.p) == (0.0, 0.0, 0.0, 1.0)
    assert result.n == 5


def test_bootstrap_of_a_constant_shift():
    base = [0.1, 0.5, 0.3, 0.2, 0.9, 0.4]
    result = paired_bootstrap(base, [v + 0.25 for v in base], n_boot=999)
    assert result.difference == pytest.approx(0.25)
    assert result.low == pytest.approx(0.25) and result.high == pytest.approx(0.25)
    assert result.p == pytest.approx(2 / 1000)  # no replicate at or below 0


def test_bootstrap_is_seeded_and_covers_the_difference():
    base = [float(i % 3 == 0) for i in range(60)]
    other = [float(i % 2 == 0) for i in range(60)]
    first = paired_bootstrap(base, other, seed=3)
    assert first == paired_bootstrap(base, other, seed=3)
    assert first.low <= first.difference <= first.high
    assert 0.0 < first.p <= 1.0


def test_bootstrap_strata_get_equal_weight_and_clusters_resample_together():
    # stratum a: one item with difference 1; stratum b: three items with difference 0.
    result = paired_bootstrap([0, 0, 0, 0], [1, 0, 0, 0], strata=["a", "b", "b", "b"])
    assert result.difference == pytest.approx(0.5)
    clustered = paired_bootstrap([0, 0, 0, 0], [1, 1, 0, 0], strata=["x", "y", "x", "y"],
                                 clusters=["g1", "g1", "g2", "g2"], n_boot=500)
    assert clustered.difference == pytest.approx(0.5)
    assert 0.0 <= clustered.low <= clustered.high <= 1.0
    assert paired_bootstrap([], []).p == 1.0
    with pytest.raises(HarcError):
        paired_bootstrap([1.0], [1.0, 2.0])
    with pytest.raises(HarcError):
        paired_bootstrap([1.0], [1.0], strata=["a", "b"])


def test_minimum_detectable_difference():
    # Connor's formula at psi = 0.5: d = 0.2 needs n = (1.96 sqrt(.5) + 0.8416 sqrt(.46))^2/.04
    # = 95.7 pairs.
    assert minimum_detectable_difference(96) == pytest.approx(0.2, abs=0.002)
    assert minimum_detectable_difference(20) == pytest.approx(0.417, abs=0.001)
    sizes = [10, 20, 50, 100, 1000]
    found = [minimum_detectable_difference(n) for n in sizes]
    assert found == sorted(found, reverse=True)
    assert minimum_detectable_difference(100, base_rate=0.1) < minimum_detectable_difference(100)
    assert minimum_detectable_difference(100, power=0.9) > minimum_detectable_difference(100)
    assert math.isinf(minimum_detectable_difference(3)) and math.isinf(
        minimum_detectable_difference(0))
    assert minimum_detectable_difference(50, base_rate=0.0) == 0.0


def test_minimum_detectable_shift():
    assert minimum_detectable_shift(1.0, 100) == pytest.approx((1.959964 + 0.841621) / 10)
    assert math.isinf(minimum_detectable_shift(1.0, 0))


def test_pair_samples_counts_the_unmatched():
    base = [{"goal": "a", "prompt": "x a"}, {"goal": "b", "prompt": "x b"},
            {"goal": "c", "prompt": "x c"}]
    other = [{"goal": "b", "prompt": "x b"}, {"goal": "a", "prompt": "x a"},
             {"goal": "d", "prompt": "x d"}, {"goal": "e", "prompt": "x e"}]
    pairing = pair_samples(base, other)
    assert [(x["goal"], y["goal"]) for x, y in pairing.pairs] == [("a", "a"), ("b", "b")]
    assert (pairing.unmatched_base, pairing.unmatched_other, pairing.unmatched) == (1, 2, 3)
    # The same goal under another prompt (e.g. a different attack) is not a pair.
    moved = pair_samples([{"goal": "a", "prompt": "x a"}], [{"goal": "a", "prompt": "y a"}])
    assert not moved.pairs and moved.unmatched == 2
    by_goal = pair_samples([{"goal": "a", "prompt": "x a"}], [{"goal": "a", "prompt": "y a"}],
                           key=lambda s: s["goal"])
    assert len(by_goal.pairs) == 1 and by_goal.unmatched == 0


def test_pair_samples_pairs_repeated_keys_in_order():
    base = [{"prompt": "p", "n": 1}, {"prompt": "p", "n": 2}, {"prompt": "p", "n": 3}]
    other = [{"prompt": "p", "n": 10}, {"prompt": "p", "n": 20}]
    pairing = pair_samples(base, other)
    assert [(x["n"], y["n"]) for x, y in pairing.pairs] == [(1, 10), (2, 20)]
    assert pairing.unmatched == 1
    turns = pair_samples([{"prompt": "p", "meta": {"turn": 1}}],
                         [{"prompt": "p", "meta": {"turn": 2}}])
    assert turns.unmatched == 2


def test_holm_steps_down_and_stops_at_the_first_failure():
    # in order of p the thresholds are 0.05/4, 0.05/3, 0.05/2, 0.05/1
    assert holm([0.04, 0.001, 0.015, 0.02]) == [True, True, True, True]
    # 0.02 fails 0.05/3, so 0.03 and 0.04 are not tested, though each is below 0.05
    assert holm([0.04, 0.001, 0.02, 0.03]) == [False, True, False, False]
    assert holm([0.03, 0.04]) == [False, False]
    assert holm([0.01, 0.04]) == [True, True]
    assert holm([0.03]) == [True]
    assert holm([0.05]) == [False]
    assert holm([]) == []
