"""``run_demo``: the whole HARC story on one model, as resumable stages.

1. directions of the base model (per-layer cosine with bootstrap band, held-out AUROC);
2. the harmfulness-refusal plane of harmless, direct harmful and attacked prompts;
3. HARC training (``cpu-demo`` preset unless told otherwise);
4. evaluation of the base model and 5. of the HARC-tuned model (same suite, same judge);
6. the plane again on the tuned model, in the base model's units;
7. ``report.md`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harc.analysis.plane import Plane
from harc.data import load_prompts
from harc.demo.budget import HARMLESS, DemoBudget
from harc.demo.plane import load_plane, measure_plane, plane_rows, save_plane
from harc.demo.stages import StageRecord, StageRunner
from harc.directions import DirectionSet
from harc.evaluation.goals import load_goals
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format
from harc.training.config import HarcConfig

logger = logging.getLogger(__name__)

STAGES = ("01-directions", "02-plane-base", "03-train", "04-eval-base", "05-eval-harc",
          "06-plane-harc", "07-report")


@dataclass
class DemoResult:
    out_dir: Path
    stages: dict[str, StageRecord]
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


def run_demo(
    loaded: LoadedModel,
    budget: DemoBudget,
    out_dir: str | Path,
    *,
    train_config: HarcConfig | None = None,
    data_root: str | Path | None = None,
    chat: ChatFormat | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    load_seconds: float = 0.0,
) -> DemoResult:
    """Run (or resume) every stage into ``out_dir``; see the module doc.

    ``train_config``: the HARC config (default: ``budget.train_preset`` with
    ``budget.train_steps``). ``data_root``: a ``../shared/data``-style folder; XSTest and MMLU
    join the evaluation when it has them. ``load_seconds``: how long loading ``loaded`` took
    (first assembly of an embedded model included), shown in the report's timing table.
    """
    started = time.perf_counter() - load_seconds
    out = Path(out_dir)
    root = Path(data_root).expanduser() if data_root is not None else None
    config = train_config or HarcConfig.load(budget.train_preset)
    if train_config is None and budget.train_steps is not None:
        config = config.model_copy(update={"max_steps": budget.train_steps})
    chat = chat or chat_format(loaded)
    # max_length bounds training sequences only; attacked evaluation prompts are longer
    train_chat = copy.copy(chat)
    train_chat.max_length = config.max_length
    dtype_name = str(loaded.dtype).removeprefix("torch.")
    model_id = f"{loaded.name}|{loaded.source}|{loaded.dtype}"
    suite = budget.suite(root)
    runner = StageRunner(out, len(STAGES), progress=progress)
    goals, _, _ = load_goals(suite.goals, root, seed=suite.seed)
    harmless = _sample(HARMLESS, budget.harmless, suite.seed)
    rows = plane_rows(goals, harmless, budget.attacks, seed=suite.seed)
    base_inputs = [model_id, dataclasses.asdict(budget)]

    directions_stage = runner.run(
        STAGES[0], "directions of the base model",
        lambda folder: _directions(loaded, chat, budget, folder, progress), base_inputs)
    directions_file = out / STAGES[0] / "directions.safetensors"

    plane_stage = runner.run(
        STAGES[1], "harmfulness-refusal plane, base model",
        lambda folder: _plane(loaded.model, chat, directions_file, rows, folder, budget,
                              progress),
        [directions_stage.fingerprint, rows])

    train_stage = runner.run(
        STAGES[2], f"HARC training ({budget.train_preset}, {config.max_steps} steps)",
        lambda folder: _train(loaded, config, train_chat, folder, progress),
        [*base_inputs, config.model_dump(mode="json")])
    adapter = out / STAGES[2] / "adapter"

    from harc.evaluation.judging import default_judges
    from harc.report import write_table_and_figures

    judges = default_judges(loaded.name)
    eval_common = {"suite": suite, "data_root": root, "chat": chat, "cache_dir": cache_dir,
                   "progress": progress, "decontaminate_with": out / STAGES[2],
                   "judges": judges,
                   "reporter": lambda result, folder: write_table_and_figures([result], folder)}
    eval_inputs = [train_stage.fingerprint, suite.to_dict(), str(root), judges]
    runner.run(STAGES[3], "evaluation, base model",
               lambda folder: _evaluate(loaded, None, "base", folder, eval_common),
               eval_inputs)
    runner.run(STAGES[4], "evaluation, HARC-tuned model",
               lambda folder: _evaluate(loaded, adapter, "HARC", folder, eval_common),
               eval_inputs)

    runner.run(
        STAGES[5], "harmfulness-refusal plane, HARC-tuned model",
        lambda folder: _plane(loaded.model, chat, directions_file, rows, folder, budget,
                              progress, adapter=adapter,
                              plane_file=out / STAGES[1] / "plane.json"),
        [plane_stage.fingerprint, train_stage.fingerprint])

    from harc.demo.report import write_demo_report

    report = runner.run(
        STAGES[6], "report",
        lambda folder: write_demo_report(out, f"{loaded.name} ({dtype_name})", budget, config,
                                         runner.records, time.perf_counter() - started,
                                         load_seconds),
        [record.fingerprint for record in runner.records.values()])
    files = {name: Path(path) for name, path in report.summary.get("files", {}).items()}
    return DemoResult(out, runner.records, time.perf_counter() - started, files)


def _sample(spec: str, n: int, seed: int) -> list[str]:
    texts = list(dict.fromkeys(prompt.text for prompt in load_prompts(spec)))
    if n >= len(texts):
        return texts
    keep = sorted(random.Random(seed).sample(range(len(texts)), n))
    return [texts[i] for i in keep]


def _directions(loaded: LoadedModel, chat: ChatFormat, budget: DemoBudget, folder: Path,
                progress: bool) -> dict[str, Any]:
    from harc.directions.job import DirectionJobConfig, run_direction_job

    job = DirectionJobConfig(max_prompts=budget.direction_prompts,
                             bootstrap_resamples=budget.bootstrap_resamples,
                             batch_size=budget.batch_size)
    result = run_direction_job(loaded, job, folder, chat=chat, progress=progress)
    rows = result.rows()
    slots = result.directions.num_slots
    middle = [row for row in rows if row.get("auroc_harm") is not None
              and slots // 4 <= row["slot"] <= 3 * slots // 4]
    best = max(middle, key=lambda row: row["auroc_harm"]) if middle else None
    return {"slots": slots, "rows": rows, "best_middle": best,
            "harmful_prompts": job.max_prompts, "seconds": result.seconds}


def _plane(model: Any, chat: ChatFormat, directions_file: Path,
           rows: list[tuple[str, str, str | None]], folder: Path, budget: DemoBudget,
           progress: bool, *, adapter: Path | None = None,
           plane_file: Path | None = None) -> dict[str, Any]:
    directions = DirectionSet.load(directions_file)
    plane: Plane | None = load_plane(plane_file)[0] if plane_file is not None else None
    target = model
    if adapter is not None:
        from peft import PeftModel

        target = PeftModel.from_pretrained(model, str(adapter))
        target.eval()
    try:
        result = measure_plane(target, chat, directions, rows, plane=plane,
                               batch_size=budget.batch_size, progress=progress)
    finally:
        if adapter is not None:
            target.unload()
    save_plane(result, folder / "plane.json")
    centroids = {label: [float(v) for v in result.points.of(label).mean(0)]
                 for label in result.points.classes()}
    return {"slot": result.points.plane.slot, "centroids": centroids,
            "shifts": [shift.as_dict() for shift in result.shifts]}


def _train(loaded: LoadedModel, config: HarcConfig, chat: ChatFormat, folder: Path,
           progress: bool) -> dict[str, Any]:
    from harc.training import train_harc

    result = train_harc(loaded, config, folder, resume=True, chat=chat, progress=progress)
    return {"steps": result.steps, "slots": result.slots, "seconds": result.seconds}


def _evaluate(loaded: LoadedModel, adapter: Path | None, name: str, folder: Path,
              common: dict[str, Any]) -> dict[str, Any]:
    from harc.evaluation.runner import evaluate

    result = evaluate(loaded, adapter=adapter, out_dir=folder, method_name=name, **common)
    return {"mean_asr": result.mean_asr, "mean_over_refusal": result.mean_over_refusal,
            "mean_capability": result.mean_capability, "seconds": result.seconds}
