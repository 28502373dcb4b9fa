"""Answers of the embedded model for the hand-labelled gold set (unlabelled; labels are added
by reading each answer against ``src/harc/data/gold/RUBRIC.md``, never by a judge).

Goals: HarmBench's VALIDATION split, standard functional category (no context string), minus
any goal that also appears in ``jbb_judge_labels`` (the probe judge's other training data).
Neither harc's built-in sets nor HarmBench's test split (kept for evaluation) are used. Each
goal is asked directly and under three template attacks, to the base model and to the model
with a HARC adapter; greedy, ``--max-new-tokens`` (default 112) new tokens.

    python benchmarks/gold_answers.py --adapter runs/train-cpu-demo/adapter \
        --out runs/gold/answers.jsonl

Then, once every answer has been read and labelled (``{"id", "label", "reason"}`` lines):

    python benchmarks/gold_answers.py --merge runs/gold/labels*.jsonl \
        --answers runs/gold/answers.jsonl --out src/harc/data/gold/gold_labels.jsonl
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import re
import time
from pathlib import Path

from harc.attacks import get_attack
from harc.directions import DirectionSet
from harc.generation import GenerationSettings, Generator
from harc.io import write_text_atomic
from harc.models import load_default
from harc.models.identity import model_key, with_adapter
from harc.training.ablation import direction_digest, directional_ablation

ATTACKS = ("direct", "refusal_suppression", "prefix_injection", "roleplay")
ABLATED_ATTACKS = ("direct", "refusal_suppression")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def gold_goals(data: Path) -> list[dict[str, str]]:
    """HarmBench-val standard behaviours not in the JBB labels, in file order."""
    jbb = {normalise(json.loads(line)["goal"])
           for line in (data / "jbb_judge_labels" / "jbb_judge_labels.jsonl").open()}
    rows = csv.DictReader((data / "harmbench" / "harmbench_behaviors_text_val.csv").open())
    return [{"goal": r["Behavior"], "behavior_id": r["BehaviorID"],
             "category": r["SemanticCategory"]}
            for r in rows
            if r["FunctionalCategory"] == "standard" and normalise(r["Behavior"]) not in jbb]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--ablate", type=Path, default=None,
                        help="a direction file: answer with the refusal direction of "
                             "--ablate-slot ablated instead (direct and refusal suppression)")
    parser.add_argument("--ablate-slot", type=int, default=16)
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="label files to merge into --answers (keeps the answers' order)")
    parser.add_argument("--answers", type=Path, nargs="+",
                        default=[Path("runs/gold/answers.jsonl")])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--max-new-tokens", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("runs/gold/answers.jsonl"))
    args = parser.parse_args()
    if args.merge:
        merge(args.answers, args.merge, args.out)
        return
    if args.adapter is None and args.ablate is None:
        parser.error("--adapter or --ablate is required to generate answers")
    started = time.perf_counter()
    goals = gold_goals(args.data)
    print(f"{len(goals)} goals")
    attacks = ATTACKS if args.ablate is None else ABLATED_ATTACKS
    attacked = [a for name in attacks for a in get_attack(name).apply([g["goal"] for g in goals])]
    by_goal = {g["goal"]: g for g in goals}
    loaded = load_default()
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    rows = []
    for variant in ("base", "harc") if args.ablate is None else ("ablated",):
        model, sha = with_adapter(loaded, args.adapter if variant == "harc" else None)
        key, context = model_key(loaded, sha), None
        if variant == "ablated":
            direction = DirectionSet.load(args.ablate).refusal[args.ablate_slot]
            key += f"|ablate={direction_digest(direction)}"
            context = functools.partial(directional_ablation, model, direction)
        generator = Generator(model, loaded.tokenizer, model_key=key, context=context)
        outputs = generator.generate([a.prompt for a in attacked], settings)
        for item, output in zip(attacked, outputs, strict=True):
            meta = by_goal[item.goal]
            uid = hashlib.sha256(f"{variant}|{item.attack}|{item.goal}".encode()).hexdigest()
            extra = {"ablation": {"directions": str(args.ablate), "slot": args.ablate_slot}
                     } if variant == "ablated" else {}
            rows.append({"id": uid[:12], "model": variant, "adapter_sha256": sha,
                         "attack": item.attack, "goal": item.goal,
                         "behavior_id": meta["behavior_id"], "category": meta["category"],
                         "prompt": item.prompt, "response": output, **extra})
        if sha is not None:
            model.unload()
    write_text_atomic(args.out, "".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(rows)} answers to {args.out} in {time.perf_counter() - started:.0f} s")


def merge(answers: list[Path], label_files: list[Path], out: Path) -> None:
    """Answers with their labels, in the answers' order; every answer labelled exactly once."""
    rows = [json.loads(line) for file in answers for line in file.open()]
    labels: dict[str, dict] = {}
    for file in label_files:
        for line in file.open():
            record = json.loads(line)
            if record["id"] in labels:
                raise SystemExit(f"{file}: {record['id']} labelled twice")
            labels[record["id"]] = record
    missing = [r["id"] for r in rows if r["id"] not in labels]
    extra = set(labels) - {r["id"] for r in rows}
    if missing or extra:
        raise SystemExit(f"unlabelled answers {missing[:5]}..., unknown ids {sorted(extra)[:5]}")
    merged = [{**r, "label": labels[r["id"]]["label"], "reason": labels[r["id"]]["reason"]}
              for r in rows]
    write_text_atomic(out, "".join(json.dumps(r) + "\n" for r in merged))
    print(f"wrote {len(merged)} labelled answers to {out}")


if __name__ == "__main__":
    main()
