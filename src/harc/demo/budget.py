"""Demo budgets: how many prompts, which attacks, how long to train, and the evaluation suite.

``quick`` takes about 8 minutes on 2 CPU cores with native bf16 (the embedded 0.5B model,
``--dtype auto``, first model assembly included); ``full``
uses every held-out prompt, more attacks, longer answers and twice the training steps.
Prompts for the plane and the evaluation are the built-in HELD-OUT splits (never trained or
extracted on); directions come from the built-in train splits.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass

from harc.errors import HarcError
from harc.evaluation.suites import AttackSpec, BenchmarkEntry, GoalSpec, Suite

GOALS = "builtin:harmful:heldout"
HARMLESS = "builtin:harmless:heldout"
PSEUDO_HARMFUL = "builtin:pseudo_harmful:heldout"


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class DemoBudget:
    name: str
    direction_prompts: int  # per set, from the built-in train splits
    bootstrap_resamples: int
    goals: int  # held-out harmful goals, for the plane and the evaluation
    harmless: int  # held-out harmless prompts, for the plane and over-refusal
    attacks: tuple[str, ...]  # single-shot attacks besides "direct"
    train_preset: str = "cpu-demo"
    train_steps: int | None = None  # None: the preset's max_steps
    new_tokens: int = 32  # generated tokens per answer in the evaluation
    capability_limit: int | None = None  # None: all built-in MC questions (32)
    mmlu_limit: int = 40  # used only when a data root holds MMLU
    batch_size: int = 32  # CPU decoding at 32 rows is compute-bound (benchmarks/generation.py)

    def __post_init__(self) -> None:
        if self.goals < 2 or self.harmless < 2:
            raise HarcError("the demo needs at least 2 goals and 2 harmless prompts")
        if len(self.attacks) < 1 or "direct" in self.attacks:
            raise HarcError("name at least one attack besides 'direct' (always included)")

    def with_overrides(self, **changes: Any) -> DemoBudget:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def suite(self, data_root: Path | None) -> Suite:
        """The before/after evaluation: ASR per attack on the held-out goals, over-refusal on
        held-out harmless and pseudo-harmful prompts (plus XSTest when ``data_root`` has it),
        capability on the built-in multiple-choice set (plus MMLU when ``data_root`` has it)."""
        from harc.data import builtin_knowledge_mc

        over_refusal = [
            BenchmarkEntry("prompt_set", "Harmless (built-in)", limit=self.harmless,
                           max_new_tokens=self.new_tokens, batch_size=self.batch_size,
                           kwargs={"source": HARMLESS}, id="harmless"),
            BenchmarkEntry("prompt_set", "Pseudo-harmful (built-in)",
                           max_new_tokens=self.new_tokens, batch_size=self.batch_size,
                           kwargs={"source": PSEUDO_HARMFUL}, id="pseudo_harmful"),
        ]
        capability = [
            BenchmarkEntry("mmlu", "Knowledge MC (built-in)", limit=self.capability_limit,
                           kwargs={"path": str(builtin_knowledge_mc()), "k_shot": 1},
                           id="knowledge_mc"),
        ]
        if data_root is not None and (data_root / "xstest").is_dir():
            over_refusal.append(BenchmarkEntry("xstest", "XSTest", limit=self.harmless,
                                               max_new_tokens=self.new_tokens,
                                               batch_size=self.batch_size))
        if data_root is not None and (data_root / "mmlu").is_dir():
            from harc.evaluation.suites import QUICK_MMLU_SUBJECTS

            capability.append(BenchmarkEntry(
                "mmlu", "MMLU", limit=self.mmlu_limit,
                kwargs={"k_shot": 1, "subjects": list(QUICK_MMLU_SUBJECTS)}))
        return Suite(
            name=f"demo-{self.name}",
            description=f"harc demo, {self.name} budget",
            goals=GoalSpec(source=GOALS, fallback=None, limit=self.goals,
                           max_new_tokens=self.new_tokens, batch_size=self.batch_size),
            attacks=tuple(AttackSpec(name) for name in ("direct", *self.attacks)),
            over_refusal=tuple(over_refusal),
            capability=tuple(capability),
        )


BUDGETS: dict[str, DemoBudget] = {
    "quick": DemoBudget(
        name="quick", direction_prompts=64, bootstrap_resamples=200, goals=16, harmless=16,
        attacks=("refusal_suppression", "prefix_injection", "roleplay", "pap"),
        new_tokens=24,
    ),
    "full": DemoBudget(
        name="full", direction_prompts=109, bootstrap_resamples=1000, goals=50, harmless=52,
        attacks=("refusal_suppression", "prefix_injection", "roleplay", "distractor",
                 "deep_inception", "code_attack", "pap"),
        new_tokens=64, train_steps=60,
    ),
}


def get_budget(name: str) -> DemoBudget:
    try:
        return BUDGETS[name]
    except KeyError:
        raise HarcError(f"unknown budget {name!r}; choose from {', '.join(BUDGETS)}") from None
