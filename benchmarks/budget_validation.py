"""Choose HARC's training budget on validation data only: every checkpoint of one or more
``harc train`` runs, measured on the run's VALIDATION prompts (its config's
``validation_harmful`` / ``validation_harmless``; for ``configs/train/cpu-full.yaml``
HarmBench *val* and Alpaca ``harmless_val``, no evaluation set).

Per adapter: (1) the representation goal of HARC_METHOD §6 against the BASE model's start
directions at the run's start slots (mean c_ref / c_harm of harmful and harmless prompts, and
the share of harmless prompts with c_ref below zero); (2) behaviour: keyword refusal rate
(greedy, 16 new tokens; a refusal shows in the first sentence) of the harmful prompts direct
and under three jailbreak templates, and of the harmless prompts (over-refusal), with the
base model first. Checkpoint adapters are read from ``RUN/snapshots/step-*`` (copies of the
trainer's checkpoints; it keeps only the last two) and ``RUN/adapter``.

    python benchmarks/budget_validation.py runs/budget/full-a --out runs/budget/validation.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from harc.attacks import get_attack
from harc.data import load_prompts
from harc.generation import GenerationSettings, Generator
from harc.io import write_json_atomic
from harc.models import load_default, load_model
from harc.models.identity import model_key, with_adapter
from harc.positions import ChatFormat
from harc.training.config import HarcConfig
from heldout_projections import projections, start_directions
from refusal_shift import refusal_rates

ATTACKS = ("direct", "refusal_suppression", "prefix_injection", "roleplay")


def adapters(run: Path) -> list[tuple[str, Path]]:
    found = [(f"{run.name}@{p.name.removeprefix('step-').lstrip('0')}", p)
             for p in sorted((run / "snapshots").glob("step-*")) if not p.name.endswith(".tmp")]
    if (run / "adapter").is_dir():
        found.append((f"{run.name}@final", run / "adapter"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="harc train output directories")
    parser.add_argument("--model", default=None, help="default: the embedded model")
    parser.add_argument("--n-harmful", type=int, default=39)
    parser.add_argument("--n-harmless", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--only", default=None, help="comma-separated adapter labels to measure")
    parser.add_argument("--out", type=Path, default=Path("runs/budget/validation.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    reference = args.runs[0]
    config = HarcConfig.from_yaml(reference / "config.yaml")
    harmful = [p.text for p in load_prompts(config.data.validation_harmful)][:args.n_harmful]
    harmless = [p.text for p in load_prompts(config.data.validation_harmless)][:args.n_harmless]
    directions, slots = start_directions(reference)
    loaded = load_default() if args.model is None else load_model(args.model)
    chat = ChatFormat(loaded.tokenizer)
    sets = {"harmless": harmless}
    for name in ATTACKS:
        sets[name] = [a.prompt for a in get_attack(name).apply(harmful, seed=0)]
    settings = GenerationSettings(max_new_tokens=16, batch_size=args.batch_size)
    labels = [("base", None)] + [item for run in args.runs for item in adapters(run)]
    if args.only:
        keep = set(args.only.split(","))
        labels = [item for item in labels if item[0] in keep or item[0] == "base"]
    rows: dict[str, dict] = {}
    for label, path in labels:
        if path is None:
            model, generator = loaded.model, Generator(loaded.model, loaded.tokenizer,
                                                       model_key=model_key(loaded))
        else:
            model, sha = with_adapter(loaded, path)
            generator = Generator(model, loaded.tokenizer, model_key=model_key(loaded, sha))
        proj = projections(model, chat, directions, slots,
                           {"harmful": harmful, "harmless": harmless}, 16)
        rates = refusal_rates(generator, sets, settings)
        rows[label] = {"adapter": None if path is None else str(path), "projections": proj,
                       "refusal": {k: v["refusal_rate"] for k, v in rates.items()},
                       "samples": {k: v["samples"][:5] for k, v in rates.items()}}
        if path is not None:
            model.unload()
        print(label, {k: round(v, 3) for k, v in rows[label]["refusal"].items()}, flush=True)

    table = Table(title=f"Validation ({len(harmful)} harmful HarmBench-val, {len(harmless)} "
                        f"harmless); projections on base directions at slots {slots}")
    columns = ["adapter", "harmful c_ref", "harmful c_harm", "harmless c_ref", "harmless <0",
               *[f"refuse {a}" for a in ATTACKS], "refuse harmless"]
    for column in columns:
        table.add_column(column, justify="left" if column == "adapter" else "right")

    def cells(values: list[float]) -> str:
        return "/".join(f"{v:+.2f}" for v in values)

    for label, row in rows.items():
        p, r = row["projections"], row["refusal"]
        table.add_row(label, cells(p["harmful"]["c_ref"]), cells(p["harmful"]["c_harm"]),
                      cells(p["harmless"]["c_ref"]),
                      "/".join(f"{v:.0%}" for v in p["harmless"]["c_ref_below_zero"]),
                      *[f"{r[a]:.2f}" for a in ATTACKS], f"{r['harmless']:.2f}")
    Console(width=200).print(table)
    write_json_atomic(args.out, {"slots": slots, "n_harmful": len(harmful),
                                 "n_harmless": len(harmless), "rows": rows,
                                 "seconds": time.perf_counter() - started,
                                 "load_average_1m": os.getloadavg()[0]})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
