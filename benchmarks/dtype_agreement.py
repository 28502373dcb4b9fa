"""What bfloat16 changes against float32 on the embedded model (``--dtype auto`` picks bf16 on
CPUs with native bf16): directions, held-out AUROC, the HARC loss curve, greedy answers.

    python benchmarks/dtype_agreement.py                 # ~8 min on 2 cores
    python benchmarks/dtype_agreement.py --steps 4 --direction-prompts 32   # shorter

Per dtype, in its own process: the direction job of ``harc demo`` (built-in train prompts,
held-out AUROC), ``--steps`` HARC steps of the ``cpu-demo`` preset (both dtypes train on the
same rows: the supply cache is keyed by the model's name, so the second run reuses the first
run's self-supplied answers; the benchmark checks the two training_answers.jsonl files are
equal), greedy answers to the built-in held-out harmful and harmless prompts, and the shipped
probe judge's scores (fit on float32 features) on harc's 390 gold answers.

Reported, with the tolerances the tiny-model tests (``tests/models/test_bf16_agreement.py``)
hold: max |delta| per slot of cos(v_harm, v_ref) and of the held-out AUROCs; max relative
|delta| per step of each loss term; identical greedy answers and the mean shared prefix.
Writes ``runs/benchmarks/dtype_agreement.json`` atomically.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generation import agreement  # noqa: E402
from harc.io import write_json_atomic  # noqa: E402

TERMS = ("couple", "couple_resp", "ce", "kl", "total")


def worker(args: argparse.Namespace, dtype: str, work: Path) -> dict[str, Any]:
    from harc.data import builtin_prompts
    from harc.directions.job import DirectionJobConfig, run_direction_job
    from harc.generation import GenerationSettings, Generator
    from harc.models import load_default
    from harc.training import train_harc
    from harc.training.config import HarcConfig

    loaded = load_default(dtype=dtype)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    job = DirectionJobConfig(max_prompts=args.direction_prompts, bootstrap_resamples=50)
    result = run_direction_job(loaded, job, work / "directions", progress=False, plot=False)
    timings["directions"] = time.perf_counter() - started
    rows = result.rows()

    started = time.perf_counter()
    config = HarcConfig.load("cpu-demo").model_copy(update={"max_steps": args.steps})
    train_harc(loaded, config, work / "train", progress=False)
    timings["train"] = time.perf_counter() - started
    lines = (work / "train" / "train_log.jsonl").read_text().splitlines()
    log = [json.loads(line) for line in lines]

    prompts = [p.text for p in builtin_prompts("harmful", "heldout")][: args.answers // 2]
    prompts += [p.text for p in builtin_prompts("harmless", "heldout")][: args.answers // 2]
    started = time.perf_counter()
    generator = Generator(loaded.model, loaded.tokenizer, cache_dir=work / "generations",
                          progress=False)
    answers = generator.generate(prompts, GenerationSettings(max_new_tokens=32, batch_size=32))
    timings["generate"] = time.perf_counter() - started

    # The shipped probe judge was fit on float32 features: its scores on the gold answers.
    from harc.data.labels import load_labels
    from harc.judges.probe import ProbeJudge

    gold = load_labels().samples
    started = time.perf_counter()
    judge = ProbeJudge(loaded.model, loaded.tokenizer, model_name=loaded.name, batch_size=16)
    probe_scores = judge.scores([s.prompt for s in gold], [s.response for s in gold])
    timings["probe_gold"] = time.perf_counter() - started
    return {
        "dtype": dtype, "seconds": timings,
        "cos": [row["cos"] for row in rows],
        "auroc_harm": [row.get("auroc_harm") for row in rows],
        "auroc_refusal": [row.get("auroc_refusal") for row in rows],
        "loss": [{term: row.get(term) for term in ("step", *TERMS)} for row in log],
        "training_answers": (work / "train" / "training_answers.jsonl").read_text(),
        "answers": answers,
        "probe_scores": probe_scores,
        "probe_threshold": judge.probe.threshold,
        "gold_harmful": [bool(s.harmful) for s in gold],
    }


def max_gap(first: list[float | None], second: list[float | None]) -> float:
    gaps = [abs(a - b) for a, b in zip(first, second, strict=True)
            if a is not None and b is not None]
    return max(gaps) if gaps else float("nan")


def compare(fp32: dict[str, Any], bf16: dict[str, Any]) -> dict[str, Any]:
    loss_gaps = {}
    for term in TERMS:
        relative = [abs(a[term] - b[term]) / max(abs(a[term]), 1e-3)
                    for a, b in zip(fp32["loss"], bf16["loss"], strict=True)
                    if a.get(term) is not None and b.get(term) is not None]
        loss_gaps[term] = max(relative) if relative else float("nan")
    answers = agreement(fp32["answers"], bf16["answers"])
    threshold = fp32["probe_threshold"]
    flags = {dtype: [score > threshold for score in run["probe_scores"]]
             for dtype, run in (("fp32", fp32), ("bf16", bf16))}
    return {
        "probe_same_verdict": sum(a == b for a, b in zip(*flags.values(), strict=True)),
        "probe_gold_answers": len(flags["fp32"]),
        "probe_flagged": {dtype: sum(values) for dtype, values in flags.items()},
        "probe_max_abs_delta_score": max_gap(fp32["probe_scores"], bf16["probe_scores"]),
        "max_abs_delta_cos": max_gap(fp32["cos"], bf16["cos"]),
        "max_abs_delta_auroc_harm": max_gap(fp32["auroc_harm"], bf16["auroc_harm"]),
        "max_abs_delta_auroc_refusal": max_gap(fp32["auroc_refusal"], bf16["auroc_refusal"]),
        "max_relative_delta_loss": loss_gaps,
        "same_training_rows": fp32["training_answers"] == bf16["training_answers"],
        "identical_answers": answers["identical"],
        "answers": answers["n"],
        "mean_shared_prefix": answers["mean_shared_prefix"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--direction-prompts", type=int, default=64)
    parser.add_argument("--answers", type=int, default=64)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "runs" / "benchmarks" / "dtype_agreement.json")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args, args.worker, args.work)))
        return {}
    passthrough = list(argv if argv is not None else sys.argv[1:])
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for dtype in ("float32", "bfloat16"):
            command = [sys.executable, __file__, *passthrough, "--worker", dtype,
                       "--work", str(Path(work) / dtype)]
            completed = subprocess.run(command, capture_output=True, text=True)
            if completed.returncode != 0:
                raise SystemExit(f"the {dtype} worker failed:\n{completed.stderr[-3000:]}")
            results[dtype] = json.loads(completed.stdout.strip().splitlines()[-1])
            print(f"{dtype}: " + ", ".join(f"{stage} {seconds:.0f} s"
                                           for stage, seconds in results[dtype]["seconds"].items()),
                  flush=True)
    summary = compare(results["float32"], results["bfloat16"])
    for key, value in summary.items():
        print(f"{key}: {value}")
    report = {"steps": args.steps, "direction_prompts": args.direction_prompts,
              "summary": summary,
              "runs": {dtype: {k: v for k, v in run.items() if k != "training_answers"}
                       for dtype, run in results.items()}}
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
