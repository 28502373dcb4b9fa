"""``compare``: build every method on one model, evaluate them all with the same suite, judges
and prompt sets, and write one Table-1-style report (the base model first).

``out_dir`` layout: ``data/`` the shared training data (answers and their provenance);
``methods/NAME/`` each method's output, complete once ``method_output.json`` exists (written
last, atomically), so a rerun skips it (``compare_input.json`` beside it records the model
and config it was built with; a mismatch is an error, not a silent reuse); ``eval/NAME/`` each
evaluation (sections cached by the runner); ``table.md``, ``asr.png``, ``tradeoff.png`` (mean
ASR against mean over-refusal, marker size = capability mean) and ``compare.json``;
``rows/NAME.json.gz`` each finished row's record, which ``from_results`` reuses in a later
comparison (:mod:`harc.methods.compare_rows`).

Every row's evaluation drops the prompts the methods trained, extracted or calibrated on
(training, extraction and validation prompts), the base row included, so all rows see the
same evaluation sets. Inference-time defences reach the generator through
:meth:`GenerationDefence.bind` (the model is wrapped).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harc.errors import HarcError
from harc.evaluation.results import EvaluationResult
from harc.evaluation.suites import Suite, load_suite
from harc.io import write_json_atomic
from harc.jobs import load_record, save_record
from harc.methods.base import OUTPUT_FILE, MethodOutput
from harc.methods.compare_rows import (
    BASE,
    CompareRow,
    check_methods,
    check_row_inputs,
    config_preset,
    evaluation_seconds,
    render_build_warnings,
    render_wall_times,
    reuse_row,
    row_extra,
    row_method,
    row_path,
    write_row_record,
)
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format
from harc.training.config import HarcConfig
from harc.training.data import TrainingData

logger = logging.getLogger(__name__)

HARC = "harc"  # the second reference row of the paired tests
INPUT_FILE = "compare_input.json"
COMPARE_FILE = "compare.json"


@dataclass
class CompareResult:
    rows: list[CompareRow]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def results(self) -> list[EvaluationResult]:
        return [row.result for row in self.rows]


def build_data(
    loaded: LoadedModel, config: HarcConfig, out_dir: Path, *, chat: ChatFormat,
    progress: bool = True,
) -> TrainingData:
    """The shared training data per ``config.data`` (answers self-supplied when enabled)."""
    from harc.training.data import load_training_data, write_training_answers
    from harc.training.supply import AnswerSupplier

    supplier = None
    if config.data.self_supply:
        supplier = AnswerSupplier.from_loaded(loaded, config.data, chat=chat, out_dir=out_dir,
                                              progress=progress)
    data = load_training_data(config.data, supplier=supplier, seed=config.seed)
    write_training_answers(data, out_dir)
    if supplier is not None:
        supplier.write_provenance(out_dir)
    return data


def data_digest(data: TrainingData) -> str:
    """A hash of every prompt and answer in ``data``, to tell whether an output used it."""
    text = json.dumps([
        [(e.prompt, e.refusal, e.harmful_answer) for e in data.harmful],
        [(e.prompt, e.answer) for e in (*data.harmless, *data.pseudo)],
        dataclasses.asdict(data.extraction), data.validation_harmful, data.validation_harmless,
    ])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_identity(loaded: LoadedModel) -> str:
    return f"{loaded.name}|{loaded.source}|{loaded.dtype}"


def _method_config(name: str, preset: str | None, overrides: dict[str, Any] | None) -> Any:
    """The config of row ``name`` (see :func:`config_preset`)."""
    from harc.methods.registry import method_config

    method, preset = config_preset(name, preset)
    return method_config(method, preset, **(overrides or {}))


def row_inputs(name: str, loaded: LoadedModel, data: TrainingData | None, suite: Suite,
               common: dict[str, Any], preset: str | None,
               overrides: dict[str, Any] | None) -> dict[str, Any]:
    """What a row's evaluation depends on, for its record (the HARC adapter that HARC + DPO
    starts from is a path of this run, so it is left out: the HARC row's inputs cover it)."""
    config = None
    if name != BASE:
        config = _method_config(name, preset, overrides).model_dump(mode="json")
        config.pop("harc_adapter", None)
    judge_model = common.get("judge_model")
    return {"model": model_identity(loaded), "suite": suite.to_dict(),
            "limit_scale": common["limit_scale"], "judges": [str(j) for j in common["judges"]],
            "judge_model": model_identity(judge_model) if judge_model is not None else None,
            "data": data_digest(data) if data is not None else None, "config": config}


def build_method(
    name: str, loaded: LoadedModel, data: TrainingData, out_dir: Path, *,
    preset: str | None, progress: bool = True, overrides: dict[str, Any] | None = None,
    from_run: Path | None = None,
) -> tuple[MethodOutput, bool]:
    """Run method ``name`` into ``out_dir``, or reuse a complete earlier output there, or
    (``from_run``) take a finished ``harc train`` run checked by :func:`finished_run_output`.
    Returns the output and whether it was reused."""
    from harc.methods.registry import get_method
    from harc.methods.steering import read_wrapper_output

    method = get_method(row_method(name)[0])
    config = _method_config(name, preset, overrides)
    wanted = {"model": model_identity(loaded), "config": config.model_dump(mode="json"),
              "data": data_digest(data)}
    stored = load_record(out_dir / INPUT_FILE)  # the inputs themselves, for a clear error
    if stored is not None and stored != wanted:  # finished, or checkpoints a build resumes
        raise HarcError(f"{out_dir} holds {name} built (or partly built) with another model, "
                        "config or data; remove it or use another --out")
    if (out_dir / OUTPUT_FILE).is_file():
        raw = json.loads((out_dir / OUTPUT_FILE).read_text(encoding="utf-8"))
        reader = read_wrapper_output if raw.get("kind") == "wrapper" else MethodOutput.read
        return reader(out_dir), True
    save_record(out_dir / INPUT_FILE, wanted)
    if from_run is not None:
        from harc.methods.harc_method import finished_run_output

        return finished_run_output(row_method(name)[0], from_run, config, loaded, data,
                                   out_dir), False
    return method.run(loaded, data, out_dir, config, progress=progress), False


def evaluate_output(
    loaded: LoadedModel, output: MethodOutput | None, name: str, out_dir: Path,
    base: EvaluationResult | None = None, **kwargs: Any,
) -> EvaluationResult:
    """Evaluate the base model (``output`` None) or a method's output with the runner. An
    inference-time defence (a wrapper) acts only inside ``generate``, so its forward-pass
    sections (MMLU) are copied from ``base``'s evaluation when given, and its self-attacker
    and LLM judge are the undefended model."""
    from harc.evaluation.runner import evaluate
    from harc.models.identity import adapter_digest

    if output is None:
        return evaluate(loaded, out_dir=out_dir, method_name=name, **kwargs)
    if output.kind == "wrapper":
        assert output.wrapper is not None
        defence = output.wrapper(loaded)
        return evaluate(defence.bind(loaded), out_dir=out_dir, method_name=name,
                        forward_sections_from=base, undefended=loaded, **kwargs)
    target = loaded
    if output.merge_adapters:
        from peft import PeftModel

        merged = copy.deepcopy(loaded.model)
        for adapter in output.merge_adapters:
            merged = PeftModel.from_pretrained(merged, str(adapter)).merge_and_unload()
        digests = ",".join(adapter_digest(a)[:16] for a in output.merge_adapters)
        target = dataclasses.replace(loaded, model=merged,
                                     source=f"{loaded.source}|merged={digests}")
    return evaluate(target, adapter=output.adapter_dir, out_dir=out_dir, method_name=name,
                    **kwargs)


def compare(
    loaded: LoadedModel,
    methods: Sequence[str],
    *,
    suite: Suite | str = "quick",
    out_dir: str | Path,
    data: TrainingData | None = None,
    data_config: HarcConfig | str = "cpu-demo",
    preset: str | None = "cpu",
    data_root: str | Path | None = None,
    judge: str = "keyword",
    judges: Sequence[str] | None = None,
    judge_model: LoadedModel | None = None,
    limit_scale: float = 1.0,
    chat: ChatFormat | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    configs: dict[str, dict[str, Any]] | None = None,
    from_runs: dict[str, Path] | None = None,
    from_results: dict[str, Path] | None = None,
) -> CompareResult:
    """Build (or reuse) each method, evaluate all, write the report; see the module doc.

    ``data``: ready-made training data; else built per ``data_config`` (a HARC preset name,
    YAML file or config: its ``data`` section and ``seed``). ``preset``: the method preset
    (e.g. ``cpu``) for methods that have it; the others get their paper defaults.
    ``configs``: per-method config overrides on top, e.g. ``{"cast": {"alpha_grid": [1.0]}}``.
    ``judges``: the harm judges of every evaluation (``judge``: the single one when None).
    ``from_runs``: method name -> a finished ``harc train`` run to use instead of training.
    ``from_results``: method name -> a row record of an earlier comparison with the same
    inputs, used instead of building and evaluating the row (checked, see ``compare_rows``).
    """
    names = check_methods(methods)
    out = Path(out_dir)
    suite = load_suite(suite) if not isinstance(suite, Suite) else suite
    chat = chat or chat_format(loaded)
    common: dict[str, Any] = {
        "suite": suite, "data_root": data_root,
        "judges": list(judges) if judges is not None else [judge], "judge_model": judge_model,
        "decontaminate_with": None, "limit_scale": limit_scale, "chat": chat,
        "cache_dir": cache_dir, "progress": progress}
    # Every record read and checked before hours of answer supply (its data digest after).
    recorded = {name: reuse_row(path, name, row_inputs(name, loaded, None, suite, common, preset,
                                                       (configs or {}).get(name)),
                                ignore=frozenset({"data"}))
                for name, path in (from_results or {}).items()}
    if data is None and any(name != BASE for name in names):
        config = data_config if isinstance(data_config, HarcConfig) else HarcConfig.load(
            data_config)
        data = build_data(loaded, config, out / "data", chat=chat, progress=progress)
    if data is not None:
        from harc.training.data import training_prompt_texts

        common["decontaminate_with"] = training_prompt_texts(data) | set(
            data.validation_harmful) | set(data.validation_harmless)
    rows: list[CompareRow] = []
    outputs: dict[str, MethodOutput] = {}
    for name in names:
        output, cached, build_seconds = None, False, 0.0
        overrides: dict[str, Any] = dict((configs or {}).get(name, {}))
        inputs = row_inputs(name, loaded, data, suite, common, preset, overrides)
        if name in recorded:
            check_row_inputs(recorded[name], (from_results or {})[name], inputs)
            rows.append(recorded[name])
            continue
        if name != BASE:
            assert data is not None
            if row_method(name)[0] == "harc_dpo" and "harc_adapter" not in overrides:
                harc = outputs.get("harc") or build_method(
                    "harc", loaded, data, out / "methods" / "harc", preset=preset,
                    progress=progress, overrides=(configs or {}).get("harc"),
                    from_run=(from_runs or {}).get("harc"))[0]
                overrides["harc_adapter"] = str(harc.adapter_dir)
            output, cached = build_method(name, loaded, data, out / "methods" / name,
                                          preset=preset, progress=progress,
                                          overrides=overrides,
                                          from_run=(from_runs or {}).get(name))
            outputs[name] = output
            # The method's own time: a training run's (kept across resumes) for --from-run,
            # HARC + DPO's DPO stage only (HARC's training is HARC's row)
            build_seconds = output.seconds
        base = rows[0].result if rows and rows[0].method == BASE else None
        result = evaluate_output(loaded, output, name, out / "eval" / name, base=base, **common)
        rows.append(CompareRow(name, output.kind if output else "none", build_seconds,
                               evaluation_seconds(result), cached, result,
                               row_extra(output),
                               inputs))
        write_row_record(rows[-1], row_path(out, name))
    return _write(rows, out, suite)


def _write(rows: list[CompareRow], out: Path, suite: Suite) -> CompareResult:
    from harc.report import write_report

    result = CompareResult(rows)
    result.files.update(write_report(result.results, out, base=BASE, also_against=(HARC,),
                                     appendix=render_wall_times(rows) + "\n\n"
                                     + render_build_warnings(rows)))
    result.files["compare"] = str(out / COMPARE_FILE)
    write_json_atomic(out / COMPARE_FILE, {"suite": suite.name,
                                           "rows": [row.to_dict() for row in rows],
                                           "files": result.files})
    return result
