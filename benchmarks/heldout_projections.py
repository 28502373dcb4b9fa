"""Held-out projections of HARC runs, all against the SAME directions: the base model's.

The trainer's ``diag_log.jsonl`` reports held-out projections against its current directions,
which change at every refresh, and on a small validation sample. This script measures every
given run and the base model on all built-in held-out prompts (none is used for training or
extraction), against the start directions of the first run at that run's starting slots:
mean c_ref = cos(h(t_post), v_ref) and c_harm = cos(h(t_inst), v_harm) per slot, with the
fraction of harmless prompts below zero.

    python benchmarks/heldout_projections.py runs/train-a runs/train-b --out runs/benchmarks/p.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from harc.data import builtin_prompts
from harc.directions import DirectionSet
from harc.io import write_json_atomic
from harc.models import load_default, load_model
from harc.models.identity import with_adapter
from harc.positions import ChatFormat
from harc.training.refresh import heldout_cosines


def projections(model: torch.nn.Module, chat: ChatFormat, directions: DirectionSet,
                slots: list[int], sets: dict[str, list[str]], batch_size: int) -> dict:
    row: dict = {}
    for name, prompts in sets.items():
        c_ref, c_harm = heldout_cosines(model, chat, directions, slots, prompts, batch_size)
        row[name] = {"c_ref": c_ref.mean(0).tolist(), "c_harm": c_harm.mean(0).tolist(),
                     "c_ref_below_zero": (c_ref < 0).float().mean(0).tolist(),
                     "c_harm_below_zero": (c_harm < 0).float().mean(0).tolist(), "n": len(prompts)}
    return row


def start_directions(run: Path) -> tuple[DirectionSet, list[int]]:
    """A ``harc train`` run's start directions (the base model's) and its starting slots."""
    directions = DirectionSet.load(run / "directions_start.safetensors")
    with (run / "diag_log.jsonl").open(encoding="utf-8") as handle:
        return directions, list(json.loads(handle.readline())["slots"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="harc train output directories")
    parser.add_argument("--model", default=None, help="default: the embedded model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path,
                        default=Path("runs/benchmarks/heldout_projections.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    reference = args.runs[0]
    directions, slots = start_directions(reference)
    sets = {"harmful": [p.text for p in builtin_prompts("harmful", "heldout")],
            "harmless": [p.text for p in builtin_prompts("harmless", "heldout")]}
    loaded = load_default() if args.model is None else load_model(args.model)
    chat = ChatFormat(loaded.tokenizer)
    rows: dict[str, dict] = {"base": projections(loaded.model, chat, directions, slots, sets,
                                                 args.batch_size)}
    for run in args.runs:
        tuned, _ = with_adapter(loaded, run / "adapter")
        rows[run.name] = projections(tuned, chat, directions, slots, sets, args.batch_size)
        tuned.unload()  # back to the bare base model for the next adapter

    table = Table(title=f"Held-out projections at slots {slots}, base-model directions "
                        f"({len(sets['harmful'])} harmful, {len(sets['harmless'])} harmless)")
    for column in ("model", "harmful c_ref", "harmful c_harm", "harmless c_ref",
                   "harmless c_harm", "harmless c_ref < 0"):
        table.add_column(column, justify="left" if column == "model" else "right")

    def cells(values: list[float]) -> str:
        return " / ".join(f"{v:+.3f}" for v in values)

    for name, row in rows.items():
        table.add_row(name, cells(row["harmful"]["c_ref"]), cells(row["harmful"]["c_harm"]),
                      cells(row["harmless"]["c_ref"]), cells(row["harmless"]["c_harm"]),
                      " / ".join(f"{v:.0%}" for v in row["harmless"]["c_ref_below_zero"]))
    Console(width=160).print(table)
    write_json_atomic(args.out, {"slots": slots, "directions": str(reference), "rows": rows,
                                 "seconds": time.perf_counter() - started,
                                 "load_average_1m": os.getloadavg()[0]})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
