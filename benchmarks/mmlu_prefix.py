"""k-shot MMLU with and without shared-prefix key/value reuse, on the same questions.

The questions are compare-full's MMLU selection (300 test questions, seed 0, 5-shot), cut to the
questions of its first ``--subjects`` subjects so that the plain side finishes in minutes on a
CPU; tokens fed are counted for the whole selection. Both sides score the same token sequences
(``mmlu._encode_item``) with ``choice_logits.letter_logits``; the table gives wall time, tokens
fed (padding included), the largest letter-logit difference and how many predictions agree.

    python benchmarks/mmlu_prefix.py                       # embedded default, auto dtype
    python benchmarks/mmlu_prefix.py --model tiny --subjects 2

``--model``: see ``benchmarks/bench_models.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_models import load
from harc.evaluation.benchmarks import mmlu
from harc.evaluation.benchmarks.choice_logits import (
    letter_logits,
    letter_token_ids,
    pick_choice,
    prefix_groups,
)
from harc.evaluation.benchmarks.common import subsample
from harc.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]


def fed_tokens(sequences: list[list[int]], batch_size: int, shared: bool) -> int:
    """Tokens the forward passes see, padding included (length-sorted batches)."""
    groups, alone = prefix_groups(sequences) if shared else ([], list(range(len(sequences))))

    def padded(lengths: list[int]) -> int:
        lengths = sorted(lengths)
        return sum(max(lengths[i:i + batch_size]) * len(lengths[i:i + batch_size])
                   for i in range(0, len(lengths), batch_size))

    return (sum(length + padded([len(sequences[r]) - length for r in rows])
                for rows, length in groups) + padded([len(sequences[r]) for r in alone]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/mmlu_prefix-cpu.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load(args.model, args.dtype, args.device)
    directory = mmlu.mmlu_dir(root=args.data_root)
    selection = subsample(mmlu.load_mmlu("test", path=directory), args.limit, 0)
    shots = {s: mmlu.load_mmlu("dev", subjects=[s], path=directory)[:5]
             for s in dict.fromkeys(i.subject for i in selection)}
    letters = letter_token_ids(loaded.tokenizer)
    encode = [mmlu._encode_item(item, shots[item.subject], loaded.tokenizer, None, letters, None)[0]
              for item in selection]
    kept_subjects = list(dict.fromkeys(i.subject for i in selection))[: args.subjects]
    rows = [n for n, item in enumerate(selection) if item.subject in kept_subjects]
    sequences = [encode[n] for n in rows]
    pad = int(loaded.tokenizer.pad_token_id or loaded.tokenizer.eos_token_id or 0)
    timings, logits = {}, {}
    for name, share in (("plain", False), ("shared prefix", True)):
        started = time.perf_counter()
        logits[name] = letter_logits(loaded.model, sequences, letters.ids, pad_token_id=pad,
                                     batch_size=args.batch_size, share_prefixes=share)
        timings[name] = time.perf_counter() - started
    predictions = {k: [pick_choice(r) for r in v.tolist()] for k, v in logits.items()}
    agree = sum(a == b for a, b in zip(*predictions.values(), strict=True))
    answers = [selection[n].answer for n in rows]
    accuracy = {k: sum(p == a for p, a in zip(v, answers, strict=True)) / len(rows)
                for k, v in predictions.items()}
    difference = float((logits["plain"] - logits["shared prefix"]).abs().max())
    tokens = {"plain": fed_tokens(encode, args.batch_size, False),
              "shared prefix": fed_tokens(encode, args.batch_size, True)}
    result = {
        "benchmark": "mmlu_prefix",
        "date": time.strftime("%Y-%m-%d"),
        "model": loaded.name,
        "device": str(loaded.device),
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "selection": {"limit": args.limit, "seed": 0, "k_shot": 5,
                      "subjects_timed": kept_subjects, "questions_timed": len(rows)},
        "batch_size": args.batch_size,
        "seconds": timings,
        "speedup": timings["plain"] / timings["shared prefix"],
        "tokens_fed_timed": {"plain": fed_tokens(sequences, args.batch_size, False),
                             "shared prefix": fed_tokens(sequences, args.batch_size, True)},
        "tokens_fed_whole_selection": tokens,
        "max_abs_letter_logit_difference": difference,
        "predictions_agree": agree,
        "accuracy": accuracy,
        "load_average_1m": os.getloadavg()[0],
    }
    table = Table(title=f"5-shot MMLU, {len(rows)} questions of {len(kept_subjects)} subjects "
                        f"({loaded.name}, {result['dtype']}, batch {args.batch_size})")
    for column in ("path", "seconds", "s/question", "tokens fed", f"tokens fed, all {len(encode)}"):
        table.add_column(column, justify="right")
    for name in timings:
        table.add_row(name, f"{timings[name]:.1f}", f"{timings[name] / len(rows):.2f}",
                      str(result["tokens_fed_timed"][name]), str(tokens[name]))
    console = Console()
    console.print(table)
    console.print(f"speed-up {result['speedup']:.2f}x; predictions agree {agree}/{len(rows)}; "
                  f"largest letter-logit difference {difference:.4f}; accuracy "
                  + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items()))
    write_json_atomic(args.out, result)
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
