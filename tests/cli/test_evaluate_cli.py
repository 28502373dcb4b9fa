from __future__ import annotations

import argparse

from harc.cli.common import with_batch_size
from harc.cli.compare import register as register_compare
from harc.cli.evaluate import register as register_evaluate
from harc.evaluation.suites import load_suite


def _parse(register, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_batch_size_defaults_to_the_suites_own() -> None:
    for register, argv in ((register_evaluate, ["evaluate", "--out", "x"]),
                           (register_compare, ["compare", "--out", "x"])):
        assert _parse(register, argv).batch_size is None
    quick = load_suite("quick")
    assert with_batch_size(quick, None) is quick
    assert quick.goals.batch_size == 32


def test_given_batch_size_overrides_every_generation_entry() -> None:
    args = _parse(register_evaluate, ["evaluate", "--out", "x", "--batch-size", "4"])
    suite = with_batch_size(load_suite("quick"), args.batch_size)
    assert suite.goals.batch_size == 4
    assert {entry.batch_size for entry in suite.over_refusal + suite.capability} == {4}
