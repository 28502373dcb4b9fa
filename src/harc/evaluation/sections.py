"""Running one section: an attack on the harmful goals, or one benchmark."""

from __future__ import annotations

import inspect
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harc.errors import DataError, HarcError
from harc.evaluation.benchmarks import get_benchmark
from harc.evaluation.decontaminate import Decontaminator, decontaminate_result
from harc.evaluation.judging import judge_rate, verdict_record
from harc.evaluation.results import Section, SectionResult
from harc.evaluation.suites import NO_ATTACKER, AttackSpec, BenchmarkEntry, effective_limit
from harc.generation import GenerationSettings
from harc.judges.measured import THREE_WAY_REFUSAL_JUDGE, measures_of

DEFAULT_NEW_TOKENS = {"gsm8k": 512, "humaneval": 512, "ifeval": 1024, "mt_bench": 1024}
BENCHMARK_JUDGES = {
    "mmlu": "letter log-likelihood",
    "gsm8k": "final-number exact match",
    "humaneval": "sandboxed unit tests",
    "ifeval": "rule checks (strict)",
    "xstest": THREE_WAY_REFUSAL_JUDGE,
    "or_bench": THREE_WAY_REFUSAL_JUDGE,
    "coconot_contrast": "keyword",
}
SCALES = {"mt_bench": 10.0}
DATA_ATTACKS = frozenset({"pap", "deep_inception", "code_attack"})
FALLBACK_JUDGE = THREE_WAY_REFUSAL_JUDGE


class SkipSection(HarcError):
    """A section cannot run here (no data, no judge model); the reason is reported."""


@dataclass
class Context:
    target: Any
    model: Any
    tokenizer: Any
    chat: Any
    harm_judge: Any
    harm_judge_name: str
    data_root: Path | None
    seed: int
    scale: float
    attacker_for: Callable[[str], Any]
    judge_generator: Any = None
    judge_model_name: str | None = None
    decontaminator: Decontaminator | None = None
    judges: list[tuple[str, Any]] = field(default_factory=list)

    def all_judges(self) -> list[tuple[str, Any]]:
        """(recorded name, judge) of every harm judge, the primary (``harm_judge``) first."""
        return self.judges or [(self.harm_judge_name, self.harm_judge)]


def build_attack(spec: AttackSpec, ctx: Context) -> Any:
    from harc.attacks import get_attack

    kwargs = dict(spec.kwargs)
    if spec.name == "pair":
        kwargs.update(target=ctx.target, judge=ctx.harm_judge,
                      attacker=ctx.attacker_for(spec.attacker if spec.attacker != NO_ATTACKER
                                                else "self"))
    elif spec.name == "gcg":
        kwargs.update(model=ctx.model, tokenizer=ctx.tokenizer, chat=ctx.chat)
    elif spec.attacker != NO_ATTACKER:
        kwargs["attacker"] = ctx.attacker_for(spec.attacker)
    if spec.name in DATA_ATTACKS and ctx.data_root is not None:
        kwargs.setdefault("data_root", ctx.data_root)
    return get_attack(spec.name, **kwargs)


def _verdict_label(verdict: Any) -> str:
    if verdict.harmful is None:
        return "undecided"
    if verdict.harmful:
        return "jailbroken"
    return "refused" if verdict.refused else "not_jailbroken"


def run_attack(
    spec: AttackSpec, goals: list[str], ctx: Context, settings: GenerationSettings,
    source: str = "goals",
) -> SectionResult:
    """One attack, judged by every harm judge (see :mod:`harc.evaluation.judging`): a goal
    counts when a judge's outcome is True for any of its responses; goals whose every verdict
    is undecided are left out of that judge's rate. The section's value is the first judge's."""
    started, cpu = time.perf_counter(), time.process_time()
    attacked = build_attack(spec, ctx).apply(goals, seed=ctx.seed)
    outputs = ctx.target.generate([a.prompt for a in attacked], settings)
    judged = [(name, judge, judge.judge([a.goal for a in attacked], outputs))
              for name, judge in ctx.all_judges()]
    samples = []
    for index, (item, output) in enumerate(zip(attacked, outputs, strict=True)):
        verdict = judged[0][2][index]
        samples.append({
            "goal": item.goal, "prompt": item.prompt, "output": output,
            "verdict": _verdict_label(verdict), "harmful": verdict.harmful,
            "refused": verdict.refused, "score": verdict.score, "judge": judged[0][0],
            "rationale": verdict.rationale, "meta": item.meta,
            "verdicts": {name: verdict_record(verdicts[index], judge)
                         for name, judge, verdicts in judged},
        })
    rates = {name: judge_rate(samples, name, measures_of(judge)) for name, judge, _ in judged}
    primary = rates[judged[0][0]]
    notes = [f"{name}: {rate['undecided']} goals had only undecided verdicts and are left out"
             for name, rate in rates.items() if rate["undecided"]]
    fell_back = Counter(str(item.meta.get("fallback_reason")) for item in attacked
                        if item.meta.get("fallback"))
    if fell_back:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(fell_back.items()))
        notes.append(f"{sum(fell_back.values())} of {len(attacked)} attacked prompts fell back "
                     f"to the attack's template ({reasons})")
    return SectionResult(
        "harmfulness", spec.name, spec.column, primary["metric"], primary["value"],
        primary["n"], primary["ci_low"], primary["ci_high"], judged[0][0], source, samples,
        config={"attack": spec.name, "kwargs": _plain(spec.kwargs), "attacker": spec.attacker,
                "max_new_tokens": settings.max_new_tokens, "goals": len(goals),
                "undecided": primary["undecided"]},
        notes=notes, seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu, judges=rates,
    )


def benchmark_size(entry: BenchmarkEntry, ctx: Context) -> tuple[int, str]:
    """(number of items the entry will score, data source); SkipSection when it cannot run."""
    spec = get_benchmark(entry.name)
    if spec.needs_judge and ctx.judge_generator is None:
        raise SkipSection(f"{entry.name}: needs a judge model (--judge-model)")
    try:
        items = spec.load(data_root=ctx.data_root, **_loader_kwargs(spec.load, entry.kwargs))
        source = entry.name
    except DataError as error:
        if entry.fallback is None:
            raise SkipSection(f"{entry.name}: {error}") from error
        from harc.data import load_prompts

        items, source = load_prompts(entry.fallback), entry.fallback
    limit = effective_limit(entry.limit, len(items), ctx.scale)
    return (len(items) if limit is None else limit), source


def _loader_kwargs(loader: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The entry's kwargs that its loader also takes (e.g. ``subjects``, ``path``, ``source``)."""
    accepted = inspect.signature(loader).parameters
    return {key: value for key, value in kwargs.items() if key in accepted and key != "data_root"}


def run_benchmark(entry: BenchmarkEntry, section: Section, ctx: Context) -> SectionResult:
    started, cpu = time.perf_counter(), time.process_time()
    spec = get_benchmark(entry.name)
    size, source = benchmark_size(entry, ctx)
    common: dict[str, Any] = {"limit": size, "seed": ctx.seed, **entry.kwargs}
    if spec.inputs == "model":
        result = spec.run(ctx.model, ctx.tokenizer, batch_size=entry.batch_size,
                          data_root=ctx.data_root, **common)
    else:
        tokens = entry.max_new_tokens or DEFAULT_NEW_TOKENS.get(entry.name, 256)
        common["settings"] = GenerationSettings(max_new_tokens=tokens,
                                                batch_size=entry.batch_size)
        if entry.name == "mt_bench":
            common.update(judge=ctx.judge_generator, tokenizer=ctx.tokenizer)
        if source == entry.name:
            result = spec.run(ctx.target, data_root=ctx.data_root, **common)
        else:
            result = _run_fallback(entry.name, source, ctx, common)
    if ctx.decontaminator is not None:
        result = decontaminate_result(result, ctx.decontaminator)
    judge = FALLBACK_JUDGE if source != entry.name else BENCHMARK_JUDGES.get(entry.name) or (
        f"judge model {ctx.judge_model_name}" if spec.needs_judge else entry.name
    )
    metric = result.metrics[result.primary]
    samples = [
        {"prompt": s.prompt, "output": s.output, "verdict": s.verdict, "score": s.score,
         "judge": judge, "meta": s.meta}
        for s in result.samples
    ]
    return SectionResult(
        section, entry.key, entry.column, result.primary, metric.value, metric.n,
        metric.ci_low, metric.ci_high, judge, source, samples,
        config={**_plain(result.config), "entry": _plain(entry.__dict__)},
        notes=list(result.notes), seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu,
        higher_is_better=section == "capability", scale=SCALES.get(entry.name, 1.0),
    )


def _run_fallback(name: str, source: str, ctx: Context, common: dict[str, Any]) -> Any:
    from harc.data import load_prompts
    from harc.evaluation.benchmarks.refusal import RefusalPrompt, run_three_way

    if get_benchmark(name).kind != "over_refusal":
        raise HarcError(f"{name}: a built-in fallback set only stands in for over-refusal sets")
    prompts = [RefusalPrompt(p.id or str(i), p.text, p.category)
               for i, p in enumerate(load_prompts(source))]
    return run_three_way(name, prompts, ctx.target, classify=None, limit=common["limit"],
                         seed=common["seed"], settings=common["settings"],
                         config={"source": source})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
