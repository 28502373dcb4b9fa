"""``evaluate``: one model (optionally with a PEFT adapter) through a suite, Table-1 style.

Harmfulness: every attack of the suite is applied to the harmful goals, the target answers
and every harm judge decides (``keyword`` by default: a refusal judge, so its rate is the
compliance rate, "no refusal phrase and at least 8 words", not harm; a harm judge such as
``llm`` gives the harmful rate, the paper's ASR; see :mod:`harc.evaluation.judging`).
Over-refusal and capability: the suite's benchmarks. Every section is written to
``out_dir/sections/`` as soon as it is done (atomically, with a fingerprint of everything it
depends on) and reused on a rerun, so an interrupted evaluation resumes; generations are
also cached by the generator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harc import __version__
from harc.errors import HarcError
from harc.evaluation.benchmarks.registry import get_benchmark
from harc.evaluation.decontaminate import Decontaminator, training_prompts
from harc.evaluation.goals import load_goals
from harc.evaluation.progress import Progress, ProgressGenerator
from harc.evaluation.results import EvaluationResult, SectionResult
from harc.evaluation.sections import (
    Context,
    SkipSection,
    benchmark_size,
    run_attack,
    run_benchmark,
)
from harc.evaluation.suites import SELF_ATTACKER, Suite, load_suite
from harc.generation import GenerationSettings, Generator
from harc.io import write_json_atomic
from harc.jobs import fingerprint, load_record, save_record
from harc.models.identity import model_key, with_adapter
from harc.models.loading import LoadedModel
from harc.models.merging import merged_copy
from harc.positions import ChatFormat, chat_format

logger = logging.getLogger(__name__)

SECTIONS_DIR = "sections"


def evaluate(
    loaded: LoadedModel,
    *,
    adapter: str | Path | None = None,
    suite: Suite | str = "quick",
    data_root: str | Path | None = None,
    judge: str = "keyword",
    judges: Sequence[str] | None = None,
    judge_model: LoadedModel | None = None,
    decontaminate_with: set[str] | str | Path | None = None,
    out_dir: str | Path,
    method_name: str | None = None,
    limit_scale: float = 1.0,
    chat: ChatFormat | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    reporter: Callable[[EvaluationResult, Path], dict[str, str]] | None = None,
    forward_sections_from: EvaluationResult | None = None,
    undefended: LoadedModel | None = None,
) -> EvaluationResult:
    """Run ``suite`` on ``loaded`` (with ``adapter`` applied if given) and write the results.

    ``judges``: the harm judges, each sample judged by all, the first the primary (its rate is
    each section's ``value``); ``judge``: the single judge when ``judges`` is None. Names:
    ``keyword``, ``refusal_probability``, ``llm`` (HarmBench-style yes/no prompt to
    ``judge_model``, or to the base weights of the model under test when None),
    ``llm-strongreject``, ``llm-refusal``, or any registered judge.
    ``judge_model`` also grades MT-Bench, which is skipped without it. ``decontaminate_with``:
    training prompts, or a ``harc train`` run directory to read them from. The adapter is
    removed from ``loaded.model`` again before returning. ``reporter(result, out_dir)``
    writes a report of the result and returns its files (e.g. ``harc.report.write_report``;
    evaluation sits below report and does not import it). ``forward_sections_from``: for a
    model that differs from that result's only inside ``generate`` (an inference-time
    defence), its sections of benchmarks scored on the plain forward pass (MMLU's
    log-likelihoods) are copied, with a note, instead of computed again: by construction they
    are the same numbers. ``undefended``: for ``loaded`` wrapped in such a defence, the model
    without it, which then serves as the self-attacker (PAP, PAIR) and the LLM judge built from
    the base weights: the attacker and the judge are not the defended system, and every row is
    attacked with the same prompts as the base row.
    """
    started = time.perf_counter()
    suite = load_suite(suite) if not isinstance(suite, Suite) else suite
    if limit_scale != 1.0:
        suite = suite.scaled(limit_scale)
    root = Path(data_root).expanduser() if data_root is not None else None
    out = Path(out_dir)
    from harc.evaluation.judging import check_specs

    specs = check_specs(list(judges) if judges is not None else [judge])
    model, sha = with_adapter(loaded, adapter)
    try:
        return _evaluate(loaded, model, sha, adapter, suite, root, specs, judge_model,
                         decontaminate_with, out, method_name, chat, cache_dir, progress,
                         reporter, started, forward_sections_from, undefended)
    finally:
        if adapter is not None:
            model.unload()


def _evaluate(
    loaded: LoadedModel, model: Any, sha: str | None, adapter: str | Path | None, suite: Suite,
    root: Path | None, specs: list[str], judge_model: LoadedModel | None,
    decontaminate_with: set[str] | str | Path | None, out: Path, method_name: str | None,
    chat: ChatFormat | None, cache_dir: Path | None, progress: bool,
    reporter: Callable[[EvaluationResult, Path], dict[str, str]] | None, started: float,
    forward_sections_from: EvaluationResult | None = None,
    undefended: LoadedModel | None = None,
) -> EvaluationResult:
    cpu_started = time.process_time()
    chat = chat or chat_format(loaded)
    key = model_key(loaded, sha)
    base_key = model_key(loaded, None)

    def generator(target: Any, gen_key: str, context: Callable[[], Any] | None = None,
                  show: bool = False) -> Any:
        return Generator(target, loaded.tokenizer, chat=chat, model_key=gen_key,
                         cache_dir=cache_dir, progress=show, context=context)

    # Answers come from the adapter folded into a copy of the weights (harc.models.merging:
    # 1.5x faster bf16 decoding on CPU); the PEFT model keeps serving everything else.
    inner = generator(model if sha is None else merged_copy(model), key)
    base_weights, base_context = model, None if sha is None else model.disable_adapter
    if undefended is not None:
        base_weights, base_key = undefended.model, model_key(undefended, None)
    base = inner if sha is None and undefended is None else generator(
        base_weights, base_key, base_context)
    attackers: dict[str, Any] = {}

    def attacker_for(name: str) -> Any:
        if name == SELF_ATTACKER:  # the same weights and cache as ``base``, with its own bar
            if name not in attackers:
                attackers[name] = generator(base_weights, base_key, base_context, show=progress)
            return attackers[name]
        if name not in attackers:
            from harc.models import load_model

            other = load_model(name, dtype=loaded.dtype, device=str(loaded.device))
            attackers[name] = Generator(other.model, other.tokenizer, model_key=f"{other.name}",
                                        cache_dir=cache_dir, progress=progress)
        return attackers[name]

    judges, judge_generator = _judges(specs, judge_model, base, loaded, model, chat, cache_dir)
    judge_model_name = judge_model.name if judge_model is not None else None
    harm_judge, judge_name = judges[0][1], judges[0][0]
    names = [name for name, _ in judges]
    decontaminator = _decontaminator(decontaminate_with)
    goals, goal_source, notes = load_goals(suite.goals, root, seed=suite.seed,
                                           scale=suite.limit_scale)
    if decontaminator is not None:
        goals = decontaminator.filter("harmful_goals", goals, lambda goal: (goal,))
    target = ProgressGenerator(inner, None)
    ctx = Context(target, model, loaded.tokenizer, chat, harm_judge, judge_name, root,
                  suite.seed, suite.limit_scale, attacker_for, judge_generator,
                  judge_model_name, decontaminator, judges)
    plan, skipped = _plan(suite, ctx, goals, goal_source)
    if forward_sections_from is not None:
        plan = [_copied_forward_section(item, forward_sections_from) for item in plan]
    bar = target.progress = Progress(sum(size for _, _, size, _ in plan), enabled=progress)
    # One judge keeps the fingerprint of single-judge runs, so their sections stay reusable.
    common = [__version__, key, judge_name if len(names) == 1 else names, str(root),
              suite.seed, suite.limit_scale,
              sorted(decontaminator.reference) if decontaminator else None,
              getattr(chat, "raw_template", None), getattr(chat, "system_prompt", None)]
    settings = GenerationSettings(max_new_tokens=suite.goals.max_new_tokens,
                                  batch_size=suite.goals.batch_size)
    sections: list[SectionResult] = []
    try:
        for name, spec, size, run in plan:
            bar.start(name, size)
            depends = [*common, spec, goals if name.startswith("harmfulness") else None,
                       judge_model_name if name.endswith("mt_bench") else None]
            sections.append(_cached(out, name, fingerprint(*depends), decontaminator,
                                    lambda run=run: run(settings)))
            bar.finish_section()
    finally:
        bar.close()
    result = EvaluationResult(
        method=method_name or _method_name(adapter),
        model=loaded.name, model_key=key, adapter=str(adapter) if adapter else None,
        suite=suite.name, harm_judge=judge_name, harm_judges=names,
        data_root=str(root) if root else None,
        goal_source=goal_source, sections=sections,
        decontamination=decontaminator.report() if decontaminator else None,
        skipped=[*notes, *skipped],
    )
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    result.files["results"] = str(out / "results.json")
    if reporter is not None:
        result.files.update(reporter(result, out))
    write_json_atomic(out / "results.json", result.to_dict())
    return result


def _method_name(adapter: str | Path | None) -> str:
    """``base``, or the adapter's directory name (its run directory's for ``RUN/adapter``)."""
    if adapter is None:
        return "base"
    path = Path(adapter)
    return path.parent.name if path.name == "adapter" and path.parent.name else path.name


def _copied_forward_section(item: tuple, source: EvaluationResult) -> tuple:
    """``item`` of the plan, running a copy of ``source``'s section when the benchmark is
    scored on the forward pass and ``source`` has it (its values in the fingerprint)."""
    name, spec, size, _run = item
    section, _, key = name.partition("--")
    if section == "harmfulness" or get_benchmark(spec["name"]).inputs != "model":
        return item
    found = next((s for s in source.sections if s.section == section and s.name == key), None)
    if found is None:
        return item
    copied = SectionResult.from_dict(found.to_dict())
    copied.seconds = copied.cpu_seconds = 0.0
    copied.notes = [*copied.notes, f"scored on the plain forward pass, which the defence does "
                    f"not touch: copied from {source.method}'s evaluation"]
    return name, {**spec, "copied_from": found.to_dict()}, size, lambda _s: copied


def _plan(
    suite: Suite, ctx: Context, goals: list[str], goal_source: str
) -> tuple[list[tuple], list[str]]:
    plan: list[tuple] = []
    skipped: list[str] = []
    for spec in suite.attacks:
        plan.append((f"harmfulness--{spec.name}", spec.__dict__, len(goals),
                     lambda s, spec=spec: run_attack(spec, goals, ctx, s, goal_source)))
    for section, entries in (("over_refusal", suite.over_refusal),
                             ("capability", suite.capability)):
        keys = [entry.key for entry in entries]
        if len(set(keys)) != len(keys):
            raise HarcError(f"suite {suite.name!r}: two {section} entries share a name; give "
                            f"one an 'id' ({keys})")
        for entry in entries:
            try:
                size, source = benchmark_size(entry, ctx)
            except SkipSection as reason:
                skipped.append(f"{section}/{entry.key}: {reason}")
                continue
            plan.append((f"{section}--{entry.key}", {**entry.__dict__, "source": source}, size,
                         lambda _s, entry=entry, section=section: run_benchmark(
                             entry, section, ctx)))
    return plan, skipped


def _cached(out: Path, name: str, fingerprint: str, decontaminator: Decontaminator | None,
            run: Callable[[], SectionResult]) -> SectionResult:
    path = out / SECTIONS_DIR / f"{name}.json"
    stored = load_record(path, fingerprint)
    if stored is not None:
        try:
            result = SectionResult.from_dict(stored["result"])
            counts = stored.get("decontamination")
            if decontaminator is not None and counts:
                decontaminator.record(counts["set"], counts["total"], counts["dropped"])
            return result
        except (KeyError, TypeError) as error:
            logger.warning("%s: unreadable section file, recomputing (%s)", path, error)
    result = run()
    counts = None
    if decontaminator is not None and result.name in decontaminator.counts:
        count = decontaminator.counts[result.name]
        counts = {"set": result.name, "total": count.total, "dropped": count.dropped}
    save_record(path, {"fingerprint": fingerprint, "decontamination": counts,
                       "result": result.to_dict()})
    return result


def _judges(
    specs: list[str], judge_model: LoadedModel | None, base: Any, loaded: LoadedModel,
    model: Any, chat: ChatFormat, cache_dir: Path | None,
) -> tuple[list[tuple[str, Any]], Any]:
    """(recorded name, judge) per spec, and the judge model's generator (None without one)."""
    from harc.evaluation.judging import build_judge

    judge_generator = None
    if judge_model is not None:
        judge_generator = Generator(judge_model.model, judge_model.tokenizer,
                                    chat=chat_format(judge_model),
                                    model_key=model_key(judge_model, None), cache_dir=cache_dir,
                                    progress=False)
    grader = judge_generator or base
    grader_name = judge_model.name if judge_model is not None else f"{loaded.name} (base)"
    judges = [build_judge(spec, grader=grader, grader_name=grader_name, model=model,
                          tokenizer=loaded.tokenizer, chat=chat, judge_model=judge_model,
                          model_name=loaded.name)
              for spec in specs]
    return judges, judge_generator


def _decontaminator(source: set[str] | str | Path | None) -> Decontaminator | None:
    if source is None:
        return None
    if isinstance(source, (str, Path)):
        texts, sources = training_prompts(source)
        return Decontaminator.from_texts(texts, sources)
    return Decontaminator.from_texts(source, ["given prompts"])
