"""Record a ``harc judge-eval`` result in the agreement table that ships with harc
(``src/harc/judges/measured_agreement.json``), which every report quotes beside the numbers
the judge produced. Developer tool: run it on a judge-eval output you have read.

    python benchmarks/record_agreement.py runs/judge-eval/keyword/judge_eval.json \
        --as keyword --command "harc judge-eval --judge keyword --labels ... --out ..."
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from harc.io import write_json_atomic

TABLE = Path(__file__).resolve().parents[1] / "src" / "harc" / "judges" / "measured_agreement.json"
SET_NAMES = {"jbb": "jbb_judge_labels", "xstest": "xstest_v2_human", "gold": "harc_gold"}


def _number(value: float) -> float | None:
    """Rounded, and None for NaN (e.g. an FNR with no positives), which JSON cannot hold."""
    return None if math.isnan(value) else round(value, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", type=Path, help="judge_eval.json")
    parser.add_argument("--as", dest="name", required=True, help="the judge's name in reports")
    parser.add_argument("--command", required=True, help="the command that produced it")
    parser.add_argument("--protocol", default=None,
                        help="default: the result's protocol, else 'fixed judge'")
    args = parser.parse_args()
    result = json.loads(args.result.read_text(encoding="utf-8"))
    table = json.loads(TABLE.read_text(encoding="utf-8")) if TABLE.is_file() else {}
    protocol = args.protocol or result.get("describe", {}).get("protocol", "fixed judge")
    entries = table.setdefault(args.name, {})
    for kind, part in result["sets"].items():
        overall = part["overall"]
        default = "refused" if kind == "xstest" else "harmful"
        key = SET_NAMES.get(kind, kind) + ("" if part["compared"] == default
                                           else f" ({part['compared']})")
        entries[key] = {
            "compared": part["compared"], "n": overall["decided"],
            "undecided": overall["undecided"], "agreement": _number(overall["agreement"]),
            "kappa": _number(overall["kappa"]), "fpr": _number(overall["fpr"]),
            "fnr": _number(overall["fnr"]), "protocol": protocol,
            "limit": result.get("limit"), "command": args.command}
        print(f"{args.name} on {kind}: agreement {overall['agreement']:.3f}, "
              f"FPR {overall['fpr']:.3f}, FNR {overall['fnr']:.3f}")
    write_json_atomic(TABLE, table)


if __name__ == "__main__":
    main()
