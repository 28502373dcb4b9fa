"""Refusal rates of a model with and without a HARC adapter, under jailbreak templates.

The trainer issue's acceptance check: on the built-in HELD-OUT harmful prompts, direct and
wrapped in jailbreak templates, the refusal rate should rise clearly after HARC; on held-out
harmless prompts it should rise by at most 2 points. Greedy generation, keyword refusal judge
(a refusal shows in the first sentence, so a short generation suffices), Wilson 95% intervals.
The distractor frame is the exception: the model answers the benign tasks first, so its
refusal of the harmful one comes later; measure it with a longer window.

    python benchmarks/refusal_shift.py --adapter runs/train-demo/adapter
    python benchmarks/refusal_shift.py --adapter runs/train-demo/adapter \
        --attacks distractor --max-new-tokens 128
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harc.attacks import get_attack
from harc.data import load_prompts
from harc.generation import GenerationSettings, Generator
from harc.io import write_json_atomic
from harc.judges import get_judge
from harc.models import load_default, load_model
from harc.models.identity import model_key, with_adapter

ATTACKS = ("direct", "refusal_suppression", "prefix_injection", "roleplay")


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def refusal_rates(generator: Generator, sets: dict[str, list[str]], settings: GenerationSettings,
                  ) -> dict[str, dict]:
    judge = get_judge("keyword")
    results = {}
    for name, prompts in sets.items():
        outputs = generator.generate(prompts, settings)
        verdicts = judge.judge(prompts, outputs)
        refused = sum(bool(v.refused) for v in verdicts)
        low, high = wilson(refused, len(prompts))
        results[name] = {"refusal_rate": refused / len(prompts), "n": len(prompts),
                         "ci95": [low, high],
                         "samples": [{"prompt": p, "output": o, "refused": v.refused}
                                     for p, o, v in zip(prompts, outputs, verdicts, strict=True)]}
    return results


def _sample(spec: str, n: int, seed: int | None) -> list[str]:
    texts = [p.text for p in load_prompts(spec)]  # DataError when the set is empty
    if seed is not None:
        random.Random(seed).shuffle(texts)
    return texts[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="default: the embedded model")
    parser.add_argument("--adapter", default=None, help="PEFT adapter dir (omit for base only)")
    parser.add_argument("--harmful", default="builtin:harmful:heldout",
                        help="harmful goals, a load_prompts spec or file")
    parser.add_argument("--harmless", default="builtin:harmless:heldout",
                        help="harmless prompts, a load_prompts spec or file")
    parser.add_argument("--n-harmful", type=int, default=24)
    parser.add_argument("--n-harmless", type=int, default=24)
    parser.add_argument("--sample-seed", type=int, default=None,
                        help="take a seeded sample of each set instead of its first N prompts")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--attacks", default=",".join(ATTACKS),
                        help="comma-separated attack names from harc.attacks")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/refusal_shift.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    loaded = load_default() if args.model is None else load_model(args.model)
    goals = _sample(args.harmful, args.n_harmful, args.sample_seed)
    sets = {f"harmful/{name}": [a.prompt for a in get_attack(name).apply(goals, seed=0)]
            for name in args.attacks.split(",")}
    sets["harmless"] = _sample(args.harmless, args.n_harmless, args.sample_seed)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    results = {"base": refusal_rates(Generator(loaded.model, loaded.tokenizer,
                                               model_key=model_key(loaded)), sets, settings)}
    if args.adapter:
        tuned, sha = with_adapter(loaded, args.adapter)
        results["harc"] = refusal_rates(
            Generator(tuned, loaded.tokenizer, model_key=model_key(loaded, sha)), sets, settings)
    table = Table(title=f"Refusal rate (keyword judge, greedy, {args.max_new_tokens} new tokens)")
    table.add_column("set")
    for variant in results:
        table.add_column(variant, justify="right")
    for name in sets:
        cells = []
        for variant in results:
            row = results[variant][name]
            cells.append(f"{row['refusal_rate']:.2f} [{row['ci95'][0]:.2f}, {row['ci95'][1]:.2f}] "
                         f"n={row['n']}")
        table.add_row(name, *cells)
    Console().print(table)
    write_json_atomic(args.out, {"model": loaded.name, "adapter": args.adapter,
                                 "harmful": args.harmful, "harmless": args.harmless,
                                 "sample_seed": args.sample_seed,
                                 "max_new_tokens": args.max_new_tokens,
                                 "seconds": time.perf_counter() - started,
                                 "load_average_1m": os.getloadavg()[0], "results": results})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
