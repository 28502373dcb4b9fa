"""The demo report's sections, each written into a Document from the stage outputs on disk."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from harc import __version__
from harc.demo.budget import DemoBudget
from harc.demo.stages import StageRecord
from harc.demo.summary import rate_name, verdicts
from harc.document import Document
from harc.evaluation.results import EvaluationResult
from harc.report import render_table
from harc.training.config import HarcConfig

DIRECTIONS, PLANE_BASE, TRAIN, EVAL_BASE, EVAL_HARC, PLANE_HARC = (
    "01-directions", "02-plane-base", "03-train", "04-eval-base", "05-eval-harc",
    "06-plane-harc")


def overview(doc: Document, model: str, budget: DemoBudget, config: HarcConfig,
             records: Mapping[str, StageRecord], seconds: float, load_seconds: float) -> None:
    device = "CUDA " + torch.cuda.get_device_name() if torch.cuda.is_available() else (
        f"CPU, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores")
    doc.paragraph(
        f"What this is: the whole HARC pipeline (harmfulness and refusal directions, the "
        f"harmfulness-refusal plane of jailbreaks, HARC fine-tuning, before/after evaluation) "
        f"run by `harc demo --budget {budget.name}` on **{model}**, harc {__version__}, "
        f"{device}, {platform.python_implementation()} {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.")
    doc.paragraph(
        f"Prompts: directions from the built-in train splits ({budget.direction_prompts} "
        f"harmful + {budget.direction_prompts} harmless at most); the plane and the evaluation "
        f"use the built-in HELD-OUT splits ({budget.goals} harmful goals, each direct and under "
        f"{len(budget.attacks)} attacks; {budget.harmless} harmless prompts), never trained or "
        f"extracted on. HARC: preset `{budget.train_preset}`, {config.max_steps} steps, LoRA "
        f"r={config.lora.r}, lr {config.lr:g}.")
    rows = [[f"{i}. {r.title}", f"{r.seconds:.0f} s" + (" (earlier run)" if r.skipped else "")]
            for i, r in enumerate(records.values(), 1)]
    rows.insert(0, ["model load (first assembly of an embedded model included)",
                    f"{load_seconds:.0f} s"])
    rows.append(["total (this invocation, model load included)", f"{seconds:.0f} s"])
    doc.table(["stage", "wall time"], rows)


def directions_section(doc: Document, out: Path, summary: dict[str, Any]) -> None:
    doc.heading("1. Harmfulness and refusal directions of the base model")
    doc.paragraph(
        "v_harm = mean difference (harmful - harmless) of the residual at the last instruction "
        "token t_inst; v_ref = the same at the last template token t_post. The band is a "
        "bootstrap 95% interval of cos(v_harm, v_ref); the AUROCs separate HELD-OUT harmful "
        "from harmless prompts by their projection on each direction.")
    doc.image(out / DIRECTIONS / "direction_cosine.png", "cosine per layer")
    rows = summary.get("rows", [])
    picks = sorted({0, len(rows) // 4, len(rows) // 2, 3 * len(rows) // 4, len(rows) - 1}
                   | ({summary["best_middle"]["slot"]} if summary.get("best_middle") else set()))
    doc.table(["slot", "cos(v_harm, v_ref) [95% CI]", "AUROC v_harm", "AUROC v_ref"],
              [[str(r["slot"]), _cos(r), _num(r.get("auroc_harm")),
                _num(r.get("auroc_refusal"))] for r in rows if r["slot"] in picks])
    best = summary.get("best_middle")
    if best:
        doc.paragraph(
            f"Best middle-layer held-out AUROC along v_harm: {best['auroc_harm']:.3f} at slot "
            f"{best['slot']}, where cos(v_harm, v_ref) = {_cos(best)}. The paper reports the two "
            f"directions nearly orthogonal in 7-8B models; {_orthogonality(best)}")


def plane_section(doc: Document, png: Path, base: dict[str, Any], tuned: dict[str, Any]) -> None:
    doc.heading("2. Where jailbreaks put a prompt in the harmfulness-refusal plane")
    doc.paragraph(
        f"Each prompt's t_inst residual on v_harm (x) and t_post residual on v_ref (y) at slot "
        f"{base['slot']}, in the BASE model's units: 0 = harmless centroid, 1 = direct harmful "
        "centroid, on both panels, so the right panel shows how HARC moved every class. "
        "Markers: o = answered (jailbroken, for harmful goals), x = refused, per the "
        "evaluation's judge.")
    doc.image(png, "plane before and after")
    tuned_shifts = {s["attack"]: s for s in tuned.get("shifts", [])}
    rows = []
    for shift in base.get("shifts", []):
        after = tuned_shifts.get(shift["attack"], {})
        rows.append([shift["attack"], _shift(shift["harm"]), _shift(shift["refusal"]),
                     shift["verdict"], _shift(after.get("harm")), _shift(after.get("refusal")),
                     after.get("verdict", "-")])
    doc.table(["attack", "Δharm (base)", "Δrefusal (base)", "base verdict", "Δharm (HARC)",
               "Δrefusal (HARC)", "HARC verdict"], rows)
    doc.paragraph(
        "Δ = the attack's mean shift from direct harmful prompts (same goals, paired), with a "
        "bootstrap 95% interval; an axis is suppressed when the whole interval lies below "
        "-0.25 units. Centroids (harm, refusal): "
        + "; ".join(f"{label} {_pair(base['centroids'][label])} -> "
                    f"{_pair(tuned['centroids'].get(label))}" for label in base["centroids"])
        + ".")


def _loss_formula(config_path: Path) -> str:
    """The loss the run really used, from its resolved config (the paper's weights are
    1 / 1 / 10 / 1; a preset may change them)."""
    import yaml

    if not config_path.is_file():
        return "(the run's config.yaml is missing: weights unknown)"
    weights = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("weights", {})

    def term(key: str, name: str) -> str:
        value = weights.get(key)
        return name if value is None else f"{value:g} {name}"

    return " + ".join([term("couple", "prompt coupling"), term("couple_resp", "response coupling"),
                       term("kl", "KL(base || tuned) on retain answers"),
                       term("ce", "refusal cross-entropy")])


def training_section(doc: Document, out: Path, summary: dict[str, Any],
                     loss_png: Path | None) -> None:
    doc.heading("3. HARC training")
    doc.paragraph(
        f"{summary.get('steps')} steps on layers {summary.get('slots')} in "
        f"{summary.get('seconds', 0):.0f} s. Loss = {_loss_formula(out / TRAIN / 'config.yaml')}"
        "; the KL reference is the same weights with the LoRA adapter disabled.")
    counts = _json(out / TRAIN / "train_summary.json").get("data_counts", {})
    if counts:
        picked = {k: v for k, v in counts.items() if k.startswith(("train_", "refusal_from",
                                                                    "harmful_answer_from"))}
        doc.paragraph("Training data (self-supplied answers and their provenance): "
                      + ", ".join(f"{k}={v}" for k, v in picked.items()) + ".")
    if loss_png is not None:
        doc.image(loss_png, "loss terms per step")
    diag = _diag(out / TRAIN / "diag_log.jsonl")
    if diag:
        first, last = diag[0]["heldout"], diag[-1]["heldout"]
        rows = []
        for i, slot in enumerate(last["slots"]):
            j = first["slots"].index(slot) if slot in first["slots"] else None
            for key, label in (("harmful_c_ref", "harmful cos(h(t_post), v_ref)"),
                               ("harmful_c_harm", "harmful cos(h(t_inst), v_harm)"),
                               ("harmless_c_ref", "harmless cos(h(t_post), v_ref)"),
                               ("harmless_c_harm", "harmless cos(h(t_inst), v_harm)")):
                before = first[key][j] if j is not None else None
                rows.append([f"{slot}", label, _num(before), _num(last[key][i])])
        doc.paragraph("Held-out validation prompts, mean projections on the training layers "
                      "(HARC's goal: harmful >= 0.5, harmless <= 0):")
        doc.table(["slot", "quantity", "step 0", f"step {diag[-1]['step']}"], rows)


def evaluation_section(doc: Document, base: EvaluationResult, tuned: EvaluationResult,
                       folder: Path, figures: dict[str, str]) -> None:
    doc.heading("4. Before / after: harmfulness, over-refusal, capability")
    doc.paragraph(
        f"Attack columns by judge {', '.join(base.judge_names)}, each headed by what its judge "
        "measures (Compliance: a refusal judge; Harmful: a harm judge, the paper's ASR). Lower "
        "attack rates and over-refusal are better, higher capability is better. Rows: the base "
        "model and the same model with the HARC adapter.")
    doc.markdown_table(render_table([base, tuned], base=base.method))
    for key in ("asr_plot", "tradeoff_plot"):
        if key in figures:
            doc.image(Path(figures[key]), key)
    doc.bullets(verdicts(base, tuned))


def examples(doc: Document, base: EvaluationResult, tuned: EvaluationResult) -> None:
    doc.heading("5. Examples (first goal of each attack, greedy answers)")
    for before in base.section("harmfulness"):
        after = tuned.get("harmfulness", before.name)
        if not before.samples or after is None or not after.samples:
            continue
        sample, later = before.samples[0], after.samples[0]
        doc.paragraph(f"**{before.label}**: goal `{sample.get('goal', '')}`")
        doc.code(f"base ({sample['verdict']}): {sample['output'].strip()[:300]}\n"
                 f"HARC ({later['verdict']}): {later['output'].strip()[:300]}")


def caveats(doc: Document, model: str, base: EvaluationResult, tuned: EvaluationResult,
            config: HarcConfig) -> None:
    doc.heading("6. Caveats")
    sizes = sorted({s.n for s in base.sections})
    doc.caveats([
        f"Model: {model}. The paper's results are for 7-8B models; a small model's directions "
        "and its response to HARC can differ, and this run is far shorter than the paper's "
        f"({config.max_steps} steps vs 400-2000).",
        f"Judge: {base.harm_judge} ({rate_name(base)}). A refusal judge such as keyword counts any "
        "answer without a refusal phrase as compliant, harmful or not, so its compliance rate "
        "is an upper bound on the harmful rate (ASR); a harm judge (`harc evaluate --judge "
        "llm`, repeatable to judge with several) measures harm.",
        f"Sample sizes per column: {sizes}. With n this small a 95% interval spans tens of "
        "points (see the interval table); read a before/after difference by its paired test "
        "on the same prompts (* in the difference table), and a column's smallest "
        "detectable difference before calling an unmarked one 'no change'.",
        "Answers are cut at a few dozen tokens, enough to show a refusal but not always the "
        "harmful part of a compliance.",
    ])


def _diag(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [d for line in path.read_text().splitlines() if line.strip()
            and "heldout" in (d := json.loads(line))]


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _orthogonality(row: Mapping[str, Any]) -> str:
    if row.get("cos") is None:
        return "here the cosine is undefined at this slot."
    if row["cos_low"] > 0.1:
        return ("here the whole interval is above 0.1: this model's harmfulness and refusal "
                "directions partly overlap.")
    if row["cos_low"] <= 0 <= row["cos_high"]:
        return "here the interval contains 0, consistent with orthogonal directions."
    return "here the cosine is small but its interval excludes 0."


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}" if value < 0 else f"{value:.3f}"


def _cos(row: Mapping[str, Any]) -> str:
    if row.get("cos") is None:
        return "undefined"
    return f"{row['cos']:+.2f} [{row['cos_low']:+.2f}, {row['cos_high']:+.2f}]"


def _shift(shift: Mapping[str, float] | None) -> str:
    if not shift:
        return "-"
    return f"{shift['mean']:+.2f} [{shift['low']:+.2f}, {shift['high']:+.2f}]"


def _pair(values: list[float] | None) -> str:
    return "-" if values is None else f"({values[0]:+.2f}, {values[1]:+.2f})"
