from __future__ import annotations

import pytest

from harc.errors import HarcError
from harc.evaluation.benchmarks import available_benchmarks, get_benchmark

NAMES = [
    "coconot_contrast",
    "gsm8k",
    "humaneval",
    "ifeval",
    "mmlu",
    "mt_bench",
    "or_bench",
    "prompt_set",
    "xstest",
]


def test_available_benchmarks_lists_every_name():
    assert available_benchmarks() == NAMES
    assert available_benchmarks("over_refusal") == ["coconot_contrast", "or_bench",
                                                    "prompt_set", "xstest"]


@pytest.mark.parametrize("name", NAMES)
def test_specs_resolve_their_loader_and_run(name):
    spec = get_benchmark(name)
    assert spec.name == name and callable(spec.load) and callable(spec.run)
    assert spec.inputs == ("model" if name == "mmlu" else "generator")
    assert spec.needs_judge == (name == "mt_bench")


def test_unknown_benchmark_names_the_choices():
    with pytest.raises(HarcError, match=r"unknown benchmark 'nope'.*gsm8k"):
        get_benchmark("nope")
