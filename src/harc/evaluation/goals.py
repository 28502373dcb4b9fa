"""Harmful goals for the harmfulness section: a named set under the data root, a file, or a
built-in set."""

from __future__ import annotations

from pathlib import Path

from harc.errors import DataError
from harc.evaluation.benchmarks.common import subsample
from harc.evaluation.suites import GoalSpec, effective_limit

GOAL_FILES = {
    "advbench": "advbench/harmful_behaviors.csv",
    "harmbench": "harmbench/harmbench_behaviors_text_test.csv",
}


def _load(source: str, data_root: Path | None) -> list[str]:
    from harc.data import load_harmbench, load_prompts

    if source.startswith("builtin:"):
        return [p.text for p in load_prompts(source)]
    if source in GOAL_FILES:
        if data_root is None:
            raise DataError(f"goal set {source!r} needs a data root")
        path = data_root / GOAL_FILES[source]
        if source == "harmbench":
            return [p.text for p in load_harmbench(path, drop_contextual=True,
                                                   drop_copyright=True)]
        return [p.text for p in load_prompts(path)]
    path = Path(source).expanduser()
    if not path.is_file() and data_root is not None and (data_root / source).is_file():
        path = data_root / source
    return [p.text for p in load_prompts(path)]


def load_goals(
    spec: GoalSpec, data_root: Path | None, *, seed: int = 0, scale: float = 1.0
) -> tuple[list[str], str, list[str]]:
    """(goals, the source used, notes). Falls back to ``spec.fallback`` when the source is
    unavailable; goals are de-duplicated, then a seeded subsample of the (scaled) limit."""
    notes: list[str] = []
    try:
        goals, source = _load(spec.source, data_root), spec.source
    except DataError as error:
        if spec.fallback is None:
            raise
        notes.append(f"goal source {spec.source!r} unavailable ({error}); using {spec.fallback}")
        goals, source = _load(spec.fallback, data_root), spec.fallback
    goals = list(dict.fromkeys(g.strip() for g in goals if g.strip()))
    limit = effective_limit(spec.limit, len(goals), scale)
    return subsample(goals, limit, seed), source, notes
