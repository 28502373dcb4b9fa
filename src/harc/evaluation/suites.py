"""Evaluation suites: which harmful goals, attacks, over-refusal and capability sets to run.

A :class:`Suite` is plain data, loadable from YAML (``load_suite("quick" | "paper" | FILE)``).
Two are built in:

``quick``: minutes on 2 CPU cores for the embedded 0.5B model. Measured with
``harc evaluate --suite quick --data-root ../shared/data`` on 2 quiet cores with an empty
generation cache (the model itself cached): 10 min 05 s wall, 582 s of evaluation, peak RSS
3.4 GB, generating in batches of 32 (CPU decoding is memory-bound, so wide batches are
nearly free). Contents and why:

* harmfulness: 20 goals x 7 single-shot attacks (PAP with its template paraphrases, no
  attacker model; PAIR and GCG are off: each needs tens of target calls per goal), 48 new
  tokens. 48 tokens show a refusal or the start of compliance, but DeepInception stories and
  CodeAttack preambles rarely reach the harmful part by then, so the keyword judge's
  compliance rate (no refusal phrase = compliant) overstates harm most in those two columns.
* over-refusal: 25 XSTest safe prompts (the 24 built-in pseudo-harmful held-out prompts
  without a data root) and 20 CoCoNot contrast prompts, 48 new tokens: a refusal shows in the
  first sentence, which is all the keyword classifiers read.
* capability: MMLU 1-shot on 40 questions over 4 subjects (5-shot prompts are ~4x longer;
  1-shot keeps the format demonstration), GSM8K on 8 problems with 160 new tokens (a 0.5B
  model's chain of thought rarely ends sooner; n=8 only separates large differences). Left
  out: IFEval (10 prompts x 128 new tokens, ~80 CPU s more, over budget), HumanEval (512
  new tokens and sandboxed tests) and MT-Bench (needs a judge model, 2 x 1024 tokens).

  Smallest detectable paired difference (see below): 0.42 per attack (20 goals), 0.17 for the
  attack mean (140 goal x attack pairs), XSTest 0.38 (n=25), CoCoNot 0.42 (n=20), MMLU 0.30
  (n=40), GSM8K 0.60 (n=8): quick separates large effects only.

``paper``: the full sets of the paper's Table 1: HarmBench test (standard behaviours) goals;
direct, PAIR, PAP (with an attacker model: the base weights of the model under test unless
``attacker`` names another), DeepInception with its released prompts, CodeAttack with its
released templates; XSTest (250 safe), CoCoNot contrast (379); MMLU 5-shot, GSM8K,
HumanEval, IFEval and MT-Bench (only when a judge model is given).

Smallest detectable paired difference: 0.16 per attack (159 HarmBench test goals), 0.07
for the attack mean (795 goal x attack pairs), XSTest 0.12 (n=250), CoCoNot 0.10 (n=379),
MMLU 0.02 (n=14042), GSM8K 0.05 (n=1319), HumanEval 0.15 (n=164), IFEval 0.08 (n=541);
MT-Bench (160 ratings) a shift of 0.31 standard deviations of the ratings.

Smallest detectable differences are for 80% power at alpha 0.05 (two-sided), from
:func:`harc.evaluation.significance.minimum_detectable_difference` at a base rate of 0.5, the
worst case (paired McNemar, normal approximation, discordance of independent outcomes: a
conservative figure), and ``minimum_detectable_shift`` for MT-Bench; a mean's goal x attack
pairs are treated as independent there, which understates it when goals' outcomes under
different attacks are correlated.

``limit`` is a seeded subsample size (``None``: the whole set); ``fallback`` is a built-in
prompt set used when the data root lacks the set.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from harc.errors import HarcError, invalid_settings

PathLike = str | os.PathLike[str]
# pydantic dataclasses: validated from YAML (types, unknown keys), positional and
# ``dataclasses.replace`` as before
STRICT = ConfigDict(extra="forbid")
NO_ATTACKER = "none"
SELF_ATTACKER = "self"


@dataclass(frozen=True, config=STRICT)
class GoalSpec:
    """Harmful goals: a source (``advbench``, ``harmbench``, a ``load_prompts`` spec such as
    ``builtin:harmful:heldout``, or a file, absolute or under the data root)."""

    source: str = "builtin:harmful:heldout"
    fallback: str | None = "builtin:harmful:heldout"
    limit: int | None = None
    max_new_tokens: int = 256
    batch_size: int = 8


@dataclass(frozen=True, config=STRICT)
class AttackSpec:
    """One attack column. ``kwargs`` go to ``get_attack``; ``attacker``: ``none``, ``self``
    (the base weights of the model under test) or a model id/path, for PAP and PAIR."""

    name: str
    label: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    attacker: str = NO_ATTACKER

    @property
    def column(self) -> str:
        return self.label or self.name


@dataclass(frozen=True, config=STRICT)
class BenchmarkEntry:
    """One benchmark from ``harc.evaluation.benchmarks``; ``kwargs`` go to its ``run``.
    ``id`` names the section when one benchmark appears twice (default: ``name``)."""

    name: str
    label: str | None = None
    limit: int | None = None
    max_new_tokens: int | None = None
    batch_size: int = 8
    fallback: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    @property
    def key(self) -> str:
        return self.id or self.name

    @property
    def column(self) -> str:
        return self.label or self.name


@dataclass(frozen=True, config=STRICT)
class Suite:
    name: str
    description: str = ""
    seed: int = 0
    goals: GoalSpec = field(default_factory=GoalSpec)
    attacks: tuple[AttackSpec, ...] = ()
    over_refusal: tuple[BenchmarkEntry, ...] = ()
    capability: tuple[BenchmarkEntry, ...] = ()
    limit_scale: float = 1.0

    def scaled(self, factor: float) -> Suite:
        """The same suite with every sample size (given or full) multiplied by ``factor``."""
        if factor <= 0:
            raise HarcError(f"limit scale must be > 0, got {factor}")
        return dataclasses.replace(self, limit_scale=self.limit_scale * factor)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Suite:
        if not isinstance(data, dict) or "name" not in data:
            raise HarcError("a suite must be a mapping with at least a 'name'")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise HarcError(
                f"suite {data['name']!r}: unknown keys {unknown}; known: {sorted(known)}"
            )
        cleaned = {key: value for key, value in data.items() if value is not None}
        try:
            return TypeAdapter(cls).validate_python(cleaned)
        except ValidationError as error:  # a missing/unknown field, or seed: abc
            raise invalid_settings(f"suite {data['name']!r}", error) from None

    @classmethod
    def from_yaml(cls, path: PathLike) -> Suite:
        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise HarcError(f"{file}: cannot read suite ({error})") from error
        return cls.from_dict(data)


def effective_limit(limit: int | None, total: int, scale: float) -> int | None:
    """The sample size after ``limit_scale``: ``None`` means every item."""
    base = total if limit is None else min(limit, total)
    if scale == 1.0:
        return limit
    return max(1, min(total, round(base * scale)))


QUICK_ATTACKS = ("direct", "refusal_suppression", "prefix_injection", "roleplay",
                 "deep_inception", "code_attack", "pap")
QUICK_MMLU_SUBJECTS = ("high_school_geography", "high_school_computer_science", "marketing",
                       "nutrition")


# CPU decoding is memory-bound: one decode step of the 0.5B model costs 0.53 s at batch 8 and
# 0.90 s at batch 32 on 2 cores, so wide batches finish the quick suite ~2-3x sooner.
QUICK_BATCH = 32


def quick_suite() -> Suite:
    return Suite(
        name="quick",
        description="minutes on 2 CPU cores; see harc.evaluation.suites for the sizing",
        goals=GoalSpec(source="advbench", fallback="builtin:harmful:heldout", limit=20,
                       max_new_tokens=48, batch_size=QUICK_BATCH),
        attacks=tuple(AttackSpec(name) for name in QUICK_ATTACKS),
        over_refusal=(
            BenchmarkEntry("xstest", "XSTest", limit=25, max_new_tokens=48, batch_size=QUICK_BATCH,
                           fallback="builtin:pseudo_harmful:heldout"),
            BenchmarkEntry("coconot_contrast", "CoCoNot", limit=20, max_new_tokens=48,
                           batch_size=QUICK_BATCH),
        ),
        capability=(
            BenchmarkEntry("mmlu", "MMLU", limit=40,
                           kwargs={"k_shot": 1, "subjects": list(QUICK_MMLU_SUBJECTS)}),
            BenchmarkEntry("gsm8k", "GSM8K", limit=8, max_new_tokens=160,
                           batch_size=QUICK_BATCH),
        ),
    )


def paper_suite() -> Suite:
    return Suite(
        name="paper",
        description="the paper's Table 1 sets in full",
        goals=GoalSpec(source="harmbench", fallback=None, max_new_tokens=256),
        attacks=(
            AttackSpec("direct"),
            AttackSpec("pair", "PAIR", attacker=SELF_ATTACKER),
            AttackSpec("pap", "PAP", attacker=SELF_ATTACKER),
            AttackSpec("deep_inception", "DeepInception", kwargs={"use_dataset": True}),
            AttackSpec("code_attack", "CodeAttack"),
        ),
        over_refusal=(
            BenchmarkEntry("xstest", "XSTest", max_new_tokens=256),
            BenchmarkEntry("coconot_contrast", "CoCoNot", max_new_tokens=256),
        ),
        capability=(
            BenchmarkEntry("mmlu", "MMLU", kwargs={"k_shot": 5}),
            BenchmarkEntry("gsm8k", "GSM8K"),
            BenchmarkEntry("humaneval", "HumanEval"),
            BenchmarkEntry("ifeval", "IFEval"),
            BenchmarkEntry("mt_bench", "MT-Bench"),
        ),
    )


BUILTIN_SUITES = {"quick": quick_suite, "paper": paper_suite}


def load_suite(name_or_path: str | PathLike) -> Suite:
    """A built-in suite by name, or a suite YAML file."""
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_SUITES:
        return BUILTIN_SUITES[name_or_path]()
    path = Path(name_or_path)
    if not path.is_file():
        raise HarcError(
            f"unknown suite {str(name_or_path)!r}: not one of {', '.join(BUILTIN_SUITES)} "
            "and not a YAML file"
        )
    return Suite.from_yaml(path)
