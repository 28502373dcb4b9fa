"""Merge the outputs of ``benchmarks/gpu_check.sh``'s steps into one JSON, with a summary of
the numbers the GPU check exists for and their goals (issue 17). Imports no torch, so it runs
(and writes what there is) even when a step or the environment failed.

    python benchmarks/gpu_check_report.py --work DIR --out gpu_check.json [--dry-run]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

SECTIONS = ("pytest", "roofline", "train_step", "extraction", "generation")
PACKAGES = ("torch", "transformers", "peft", "accelerate", "pydantic", "gguf", "trl", "datasets")
H200_BF16_DENSE_FLOPS = 989e12  # the datasheet's dense bf16 peak; roofline.py measures ~790e12
GOALS = {
    "harc_step_over_sft": "<= 1.1",
    "harc_memory_over_sft": "<= 1.05",
    "harc_mfu": ">= 0.40",
    "extraction_over_plain_forward": ">= 0.9",
}


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_steps(work: Path) -> dict[str, dict[str, Any]]:
    """``steps.tsv``: one ``name rc seconds`` line per step the shell script ran."""
    steps: dict[str, dict[str, Any]] = {}
    path = work / "steps.tsv"
    lines = path.read_text().splitlines() if path.is_file() else []
    for line in lines:
        name, rc, seconds = line.split("\t")
        log = work / f"{name}.log"
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        steps[name] = {"rc": int(rc), "seconds": float(seconds), "ok": rc == "0"}
        if rc != "0":
            steps[name]["log_tail"] = tail
    return steps


def read_pytest(path: Path) -> dict[str, Any] | None:
    """Counts and each test's outcome from pytest's JUnit XML."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return None
    tests: dict[str, str] = {}
    for case in root.iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
        tests[case.get("name", "?")] = outcome
    counts = {state: sum(v == state for v in tests.values())
              for state in ("passed", "failed", "error", "skipped")}
    return {**counts, "tests": tests}


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def summarise(sections: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {"goals": GOALS}
    train = sections.get("train_step") or {}
    variants = train.get("variants", {})
    memory_key = train.get("memory_metric")
    for name, row in variants.items():
        entry = {"median_step_s": row.get("median_step_s"), "tokens": row.get("tokens"),
                 "peak_memory_mb": row.get(memory_key) if memory_key else None,
                 # 4 N FLOPs per token (LoRA: no weight gradients of the frozen base)
                 "model_tflops_per_s": row["model_flops_per_s"] / 1e12
                 if row.get("model_flops_per_s") else None,
                 "mfu_of_measured_matmul_peak": row.get("fraction_of_matmul_peak")}
        if train.get("device", "").startswith("cuda") and row.get("model_flops_per_s"):
            entry["mfu_of_989_tflops"] = row["model_flops_per_s"] / H200_BF16_DENSE_FLOPS
        summary[f"train_{name}"] = entry
    summary["harc_step_over_sft"] = train.get("time_ratio_harc_over_sft")
    summary["harc_memory_over_sft"] = train.get("memory_ratio_harc_over_sft")
    summary["two_copy_memory_over_harc"] = train.get("memory_ratio_two_copy_over_harc")
    summary["harc_mfu"] = (summary.get("train_harc") or {}).get("mfu_of_measured_matmul_peak")
    extraction = sections.get("extraction") or {}
    summary["extraction_over_plain_forward"] = extraction.get("ratio_extraction_over_plain")
    summary["extraction_prompts_per_s"] = extraction.get("extraction_prompts_per_s")
    generation = sections.get("generation") or {}
    rows = generation.get("rows") or []
    if rows:
        row = rows[0]
        summary["generation"] = {
            "batch_size": generation.get("batch_size"),
            "tokens_per_s": row.get("tokens_per_s"),
            # Every row decodes max_new_tokens when nothing stops early: exact for the random
            # 7B architecture (bench_models.py masks its stop tokens), an upper bound otherwise.
            "token_slots_per_s": generation["n_prompts"] * generation["max_new_tokens"]
            / row["seconds"],
            "fraction_of_bandwidth": row.get("fraction_of_bandwidth"),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--wall-s", type=float, default=None)
    args = parser.parse_args(argv)
    steps = read_steps(args.work)
    sections: dict[str, Any] = {"pytest": read_pytest(args.work / "pytest.xml")}
    for name in SECTIONS[1:]:
        sections[name] = read_json(args.work / f"{name}.json")
    report = {
        "check": {
            "dry_run": args.dry_run, "device": args.device, "wall_s": args.wall_s,
            "python": sys.version.split()[0], "platform": platform.platform(),
            "packages": versions(), "steps": steps,
            "ok": bool(steps) and all(step["ok"] for step in steps.values())
            and all(sections[name] is not None for name in SECTIONS),
        },
        **sections,
        "summary": summarise(sections),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(args.out)
    print(json.dumps(report["summary"], indent=2))
    print(f"wrote {args.out} (ok: {report['check']['ok']})")
    return 0 if report["check"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
