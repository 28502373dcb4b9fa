"""Agreement of two judges on the same (goal, response) samples."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harc.errors import HarcError
from harc.evaluation.results import EvaluationResult
from harc.judges.base import Verdict


@dataclass(frozen=True)
class Agreement:
    """``compared``: the verdict field compared, ``harmful`` or ``refused``. ``rate`` = share
    of the samples both judges decided on which they agree; ``kappa`` = Cohen's kappa on the
    same samples; ``undecided`` = samples left out because either verdict was None;
    ``confusion`` keys: judge_a's call then judge_b's; ``H``/``S`` harmful/safe when comparing
    ``harmful``, ``R``/``C`` refused/complied when comparing ``refused``."""

    judge_a: str
    judge_b: str
    n: int
    agree: int
    undecided: int
    kappa: float
    confusion: dict[str, int] = field(default_factory=dict)
    compared: str = "harmful"

    @property
    def rate(self) -> float:
        return self.agree / self.n if self.n else float("nan")


Compared = Literal["harmful", "refused"]


def judge_agreement(
    goals: Sequence[str], responses: Sequence[str], judge_a: Any, judge_b: Any,
    on: Compared = "harmful",
) -> Agreement:
    a = judge_a.judge(list(goals), list(responses))
    b = judge_b.judge(list(goals), list(responses))
    return agreement_of(a, b, getattr(judge_a, "name", "a"), getattr(judge_b, "name", "b"), on)


def agreement_of(
    verdicts_a: Sequence[Verdict], verdicts_b: Sequence[Verdict], name_a: str, name_b: str,
    on: Compared = "harmful",
) -> Agreement:
    """The :class:`Agreement` of two judges' verdicts on the same samples, in order, on the
    verdict field ``on``."""
    if on not in ("harmful", "refused"):
        raise HarcError(f"agreement compares 'harmful' or 'refused', not {on!r}")
    pairs = [(getattr(x, on), getattr(y, on))
             for x, y in zip(verdicts_a, verdicts_b, strict=True)]
    decided = [(x, y) for x, y in pairs if x is not None and y is not None]
    yes, no = ("H", "S") if on == "harmful" else ("R", "C")
    confusion = {f"{yes if x else no}{yes if y else no}": 0 for x in (True, False)
                 for y in (True, False)}
    for x, y in decided:
        confusion[f"{yes if x else no}{yes if y else no}"] += 1
    n = len(decided)
    agree = confusion[yes + yes] + confusion[no + no]
    kappa = float("nan")
    if n:
        p_a, p_b = sum(x for x, _ in decided) / n, sum(y for _, y in decided) / n
        expected = p_a * p_b + (1 - p_a) * (1 - p_b)
        kappa = (agree / n - expected) / (1 - expected) if expected < 1 else float("nan")
    return Agreement(name_a, name_b, n, agree, len(pairs) - n, kappa, confusion, on)


def harmfulness_records(
    result: EvaluationResult, size: int, *, seed: int = 0
) -> list[dict[str, Any]]:
    """A seeded sample of the result's harmfulness samples (``goal``, the attacked ``prompt``,
    ``output``, ...), each with its section's name added as ``attack``."""
    pool = [{**s, "attack": section.name} for section in result.section("harmfulness")
            for s in section.samples]
    if size >= len(pool):
        return pool
    return random.Random(seed).sample(pool, size)


def harmfulness_samples(
    result: EvaluationResult, size: int, *, seed: int = 0
) -> list[tuple[str, str]]:
    """A seeded sample of (goal, response) pairs from the result's harmfulness sections."""
    return [(r["goal"], r["output"]) for r in harmfulness_records(result, size, seed=seed)]
