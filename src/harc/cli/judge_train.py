"""``harc judge-train``: train a probe judge (logistic regression on a frozen model's residual
stream over (goal, response) pairs) on labelled answers.

Slot, pooling and regularisation are chosen by cross-validation with folds grouped by
behaviour / goal; with ``--nested`` (default) the agreement of that whole procedure is first
measured on held-out folds (the choice made inside each training fold) and stored in the probe.
Writes ``OUT.safetensors`` + ``OUT.json`` and ``OUT.cv.json`` (every candidate's score).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harc.cli.common import DEVICE_HELP, DTYPE_HELP, positive_int


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("judge-train", help="train a probe judge on labelled answers",
                                 description=__doc__)
    parser.add_argument("--labels", action="append", required=True,
                        help="labelled file with harm labels, or 'gold' (repeatable)")
    parser.add_argument("--feature-model", default="embedded:default",
                        help="the frozen model whose residual stream the probe reads")
    parser.add_argument("--slots", default=None,
                        help="candidate residual slots, e.g. '8,12,16' (default: every second "
                             "slot from a quarter of the depth)")
    parser.add_argument("--max-response-tokens", type=positive_int, default=128)
    parser.add_argument("--folds", type=positive_int, default=5)
    parser.add_argument("--no-nested", dest="nested", action="store_false",
                        help="skip the nested held-out estimate")
    parser.add_argument("--dtype", default="auto", help=DTYPE_HELP)
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--out", required=True, type=Path, help="probe path (without suffix)")
    parser.set_defaults(run=run)


def parse_slots(text: str | None, n_slots: int) -> list[int]:
    from harc.errors import HarcError

    if text is None:
        return list(range(max(1, n_slots // 4), n_slots, 2))
    try:
        slots = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise HarcError(f"--slots must be comma-separated integers, got {text!r}") from None
    if not slots or slots[0] < 0 or slots[-1] >= n_slots:
        raise HarcError(f"--slots must lie in 0..{n_slots - 1}, got {text!r}")
    return slots


def run(args: argparse.Namespace) -> int:
    from harc.activations import all_slots
    from harc.cli.judge_eval import load_label_sets
    from harc.evaluation.judge_eval import cross_validate_probe, train_probe
    from harc.io import write_json_atomic
    from harc.judges.probe_features import FeatureSpec
    from harc.models import load_model

    label_sets = load_label_sets(args.labels, None, 0)
    loaded = load_model(args.feature_model, dtype=args.dtype, device=args.device)
    slots = parse_slots(args.slots, len(all_slots(loaded.model)))
    spec = FeatureSpec(max_response_tokens=args.max_response_tokens)
    summary = {}
    if args.nested:
        cv = cross_validate_probe(loaded, label_sets, spec, slots=slots, n_folds=args.folds,
                                  batch_size=args.batch_size)
        summary = {kind: {"protocol": f"nested grouped {args.folds}-fold CV",
                          **{k: part["overall"][k] for k in
                             ("n", "agreement", "kappa", "fpr", "fnr")}}
                   for kind, part in cv["sets"].items()}
        for kind, scores in summary.items():
            print(f"{kind}: held-out agreement {scores['agreement']:.3f}, kappa "
                  f"{scores['kappa']:.3f}, FPR {scores['fpr']:.3f}, FNR {scores['fnr']:.3f}")
    probe, table = train_probe(loaded, args.feature_model, label_sets, spec, slots=slots,
                               n_folds=args.folds, batch_size=args.batch_size,
                               cross_validated=summary)
    probe.metadata["candidate_slots"] = slots
    path = probe.save(args.out)
    write_json_atomic(Path(args.out).with_suffix(".cv.json"),
                      {"candidates": table, "chosen": f"{probe.pooling}@{probe.slot}",
                       "nested": summary})
    print(f"chosen: {probe.pooling} at slot {probe.slot} (C={probe.metadata['c']}); "
          f"wrote {path}")
    return 0
