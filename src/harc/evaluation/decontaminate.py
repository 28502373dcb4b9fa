"""Decontamination: drop evaluation prompts that the model under test was trained on.

Texts are compared after :func:`normalize_text` (lower case, punctuation removed, whitespace
collapsed), as exact matches. The reference set is every training or direction-extraction
prompt of the run (``harc train`` output: ``training_answers.jsonl`` plus the prompt pools
named in its ``config.yaml``, which the extraction set is drawn from).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from harc.errors import DataError, HarcError

logger = logging.getLogger(__name__)

T = TypeVar("T")
ANSWERS_FILE = "training_answers.jsonl"
CONFIG_FILE = "config.yaml"
POOL_KEYS = ("harmful", "harmless", "pseudo_harmful")
_PUNCTUATION = re.compile(r"[^\w\s]|_")


def normalize_text(text: str) -> str:
    """Lower case, no punctuation (Unicode-aware), whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


@dataclass(frozen=True)
class SetCount:
    """How many items of one evaluation set were checked and dropped."""

    total: int
    dropped: int

    @property
    def kept(self) -> int:
        return self.total - self.dropped


@dataclass
class Decontaminator:
    """Exact-match filter against a set of reference prompts; counts drops per set."""

    reference: frozenset[str]
    sources: list[str] = field(default_factory=list)
    counts: dict[str, SetCount] = field(default_factory=dict)

    @classmethod
    def from_texts(cls, texts: Iterable[str], sources: Sequence[str] = ()) -> Decontaminator:
        normalized = frozenset(t for t in (normalize_text(x) for x in texts) if t)
        return cls(normalized, list(sources))

    def contaminated(self, *texts: str) -> bool:
        return any(normalize_text(text) in self.reference for text in texts)

    def filter(self, name: str, items: Sequence[T], key: Callable[[T], Sequence[str]]) -> list[T]:
        """``items`` whose texts (``key(item)``) are all unseen; the drop count is recorded."""
        kept = [item for item in items if not self.contaminated(*key(item))]
        self.record(name, len(items), len(items) - len(kept))
        return kept

    def record(self, name: str, total: int, dropped: int) -> None:
        self.counts[name] = SetCount(total, dropped)

    def report(self) -> dict[str, Any]:
        return {
            "reference_prompts": len(self.reference),
            "sources": list(self.sources),
            "sets": {
                name: {"total": c.total, "dropped": c.dropped, "kept": c.kept}
                for name, c in self.counts.items()
            },
        }


def training_prompts(run_dir: str | Path) -> tuple[set[str], list[str]]:
    """Every prompt a ``harc train`` run trained or extracted directions on, and where from."""
    root = Path(run_dir)
    answers = root / ANSWERS_FILE
    if not answers.is_file():
        raise DataError(f"{root}: not a harc train run directory (no {ANSWERS_FILE})")
    texts: set[str] = set()
    for number, line in enumerate(answers.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            texts.add(str(json.loads(line)["prompt"]))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DataError(f"{answers}, line {number}: no prompt ({error})") from error
    sources = [str(answers)]
    for spec in _pool_specs(root / CONFIG_FILE):
        try:
            from harc.data import load_prompts

            texts.update(prompt.text for prompt in load_prompts(spec))
            sources.append(spec)
        except HarcError as error:
            logger.warning("decontamination: cannot load the run's pool %s (%s)", spec, error)
    return texts, sources


def _pool_specs(config: Path) -> list[str]:
    if not config.is_file():
        return []
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        logger.warning("decontamination: cannot read %s (%s)", config, error)
        return []
    pools = data.get("data") if isinstance(data, dict) else None
    if not isinstance(pools, dict):
        return []
    return [str(pools[key]) for key in POOL_KEYS if isinstance(pools.get(key), str)]


def sample_texts(benchmark: str, prompt: str) -> tuple[str, ...]:
    """The texts of one benchmark sample that could match a training prompt: the prompt as
    sent, and the bare item (MMLU question without choices, GSM8K question without the
    instruction)."""
    texts = [prompt]
    if benchmark == "mmlu":
        texts.append(prompt.split("\nA. ", 1)[0])
    elif benchmark == "gsm8k":
        from harc.evaluation.benchmarks.gsm8k import INSTRUCTION

        texts.append(prompt.removeprefix(INSTRUCTION))
    return tuple(texts)


def decontaminate_result(result: Any, decontaminator: Decontaminator) -> Any:
    """A BenchmarkResult without the samples whose prompt is contaminated. When any is
    dropped, the primary metric is recomputed from the remaining sample scores (other
    metrics and breakdowns, which cannot be recomputed generically, are removed)."""
    from harc.evaluation.benchmarks.common import mean_metric, proportion

    kept = [
        s for s in result.samples
        if not decontaminator.contaminated(*sample_texts(result.benchmark, s.prompt))
    ]
    dropped = len(result.samples) - len(kept)
    decontaminator.record(result.benchmark, len(result.samples), dropped)
    if not dropped:
        return result
    primary = result.metrics[result.primary]
    scores = [s.score for s in kept if s.score is not None]
    if primary.method == "wilson":
        metric = proportion(sum(scores), len(scores))
    else:
        metric = mean_metric(scores)
    note = f"decontaminated: {dropped} of {len(result.samples)} samples dropped; metric recomputed"
    return replace(
        result, metrics={result.primary: metric}, samples=kept, breakdown={},
        notes=[*result.notes, note],
    )
