"""``harc judge-eval``: how well a judge agrees with labels (agreement, Cohen's kappa, false-
positive and false-negative rates with Wilson 95% intervals, per attack / target model / ...).

Labels: ``jbb_judge_labels.jsonl`` (harm), XSTest's ``xstest_v2_completions_gpt4_gpteval.csv``
(human refusal labels) or ``gold`` (harc's hand-labelled answers of the embedded model).
``--judge probe --cross-validate`` measures a probe trained inside grouped folds of the labels
(nested choice of slot and pooling), the only fair measure on data a probe trains on.
"""

from __future__ import annotations

import argparse
import inspect
import random
from pathlib import Path
from typing import Any

from harc.cli.common import (
    DEVICE_HELP,
    DTYPE_HELP,
    add_judge_model_arguments,
    load_judge_model,
    positive_int,
)

GOLD = "gold"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("judge-eval", help="measure a judge against labelled answers",
                                 description=__doc__)
    parser.add_argument("--judge", required=True, help="a registered judge name")
    add_judge_model_arguments(
        parser, "the judge's model (llm: embedded:judge; refusal_probability and classifiers: "
                "embedded:default; probe: the probe's feature model)")
    parser.add_argument("--judge-template", type=Path, default=None,
                        help="template file for the classifier and rubric judges")
    parser.add_argument("--style", default="harmbench", help="llm judge style")
    parser.add_argument("--probe", type=Path, default=None, help="probe file (default: shipped)")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--cross-validate", action="store_true",
                        help="probe only: nested grouped cross-validation on the labels")
    parser.add_argument("--folds", type=positive_int, default=5)
    parser.add_argument("--labels", action="append", required=True,
                        help=f"labelled file, or {GOLD!r} (repeatable)")
    parser.add_argument("--compare", choices=("harmful", "refused"), default=None,
                        help="the verdict field to score (default: the one the labels carry; "
                             "gold carries both)")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="a seeded sample of this many answers per labelled file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="auto", help=DTYPE_HELP)
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.set_defaults(run=run)


def load_label_sets(names: list[str], limit: int | None, seed: int) -> list[Any]:
    from harc.data.labels import LabelSet, load_labels
    from harc.errors import HarcError

    sets = []
    for name in names:
        labels = load_labels(None if name == GOLD else Path(name))
        if limit is not None:
            if limit < 1:
                raise HarcError(f"--limit must be >= 1, got {limit}")
            if limit < len(labels.samples):
                keep = sorted(random.Random(seed).sample(range(len(labels.samples)), limit))
                labels = LabelSet(labels.kind, labels.source, [labels.samples[i] for i in keep])
        sets.append(labels)
    return sets


def build_judge(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The judge named by ``--judge`` with its model and template, and its description."""
    from harc.judges import get_judge
    from harc.judges.base import judge_factory
    from harc.judges.llm import LLMJudge
    from harc.models import load_model

    name = args.judge
    judge_factory(name)  # an unknown name fails here, before any model loads
    if name == "keyword":
        return get_judge(name), {"name": name}
    if name == "probe":
        kwargs: dict[str, Any] = {"probe": args.probe, "threshold": args.threshold,
                                  "batch_size": args.batch_size, "progress": True}
        if args.judge_model:
            loaded = load_model(args.judge_model, dtype=args.dtype, device=args.device)
            kwargs.update(model=loaded.model, tokenizer=loaded.tokenizer, model_name=loaded.name)
        judge = get_judge(name, **kwargs)
        return judge, judge.describe()
    if name == "llm":  # prompted through the judge model's own chat format
        from harc.generation import Generator
        from harc.positions import chat_format

        loaded = load_judge_model(args, default="embedded:judge")
        assert loaded is not None
        generator = Generator(loaded.model, loaded.tokenizer, chat=chat_format(loaded),
                              model_key=loaded.name, progress=True)
        judge = LLMJudge(generator=generator, style=args.style, batch_size=args.batch_size)
        return judge, {"name": name, "model": loaded.name, "style": args.style}
    # classifiers bring their own prompt format (their template file), so no chat template
    loaded = load_model(args.judge_model or "embedded:default", dtype=args.dtype,
                        device=args.device)
    offered = {"model": loaded.model, "tokenizer": loaded.tokenizer,
               "template_path": args.judge_template, "threshold": args.threshold,
               "batch_size": args.batch_size, "model_name": loaded.name}
    parameters = inspect.signature(judge_factory(name)).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs = {k: v for k, v in offered.items()
              if v is not None and (takes_any or k in parameters or k in ("model", "tokenizer"))}
    judge = get_judge(name, **kwargs)
    describe = getattr(judge, "describe", None)
    return judge, describe() if callable(describe) else {"name": name, "model": loaded.name}


def run(args: argparse.Namespace) -> int:
    from harc.errors import HarcError
    from harc.evaluation.judge_eval import cross_validate_probe, evaluate_judge
    from harc.evaluation.judge_report import render_judge_eval
    from harc.io import write_json_atomic

    label_sets = load_label_sets(args.labels, args.limit, args.seed)
    results: dict[str, Any] = {"judge": args.judge, "limit": args.limit, "seed": args.seed}
    if args.cross_validate:
        if args.judge != "probe":
            raise HarcError("--cross-validate trains the judge in folds: only for --judge probe")
        from harc.judges.probe import Probe, shipped_probe_path
        from harc.models import load_model

        template = Probe.load(args.probe or shipped_probe_path())
        reference = args.judge_model or template.metadata.get("feature_model", "embedded:default")
        loaded = load_model(reference, dtype=args.dtype, device=args.device)
        slots = template.metadata.get("candidate_slots") or [template.slot]
        cv = cross_validate_probe(loaded, label_sets, template.spec,
                                  slots=slots, n_folds=args.folds, batch_size=args.batch_size)
        results.update(describe={"name": "probe", "protocol": f"nested grouped {args.folds}-fold "
                                 "cross-validation", "feature_model": loaded.name,
                                 "candidate_slots": slots}, chosen=cv["chosen"], sets=cv["sets"])
    else:
        judge, describe = build_judge(args)
        results.update(describe=describe, sets={
            labels.kind: evaluate_judge(judge, labels, compared=args.compare)
            for labels in label_sets})
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "judge_eval.json", results)
    text = render_judge_eval(results)
    from harc.document import Document

    Document.from_markdown(text).write(args.out, "judge_eval")
    print(text)
    print(f"wrote {args.out / 'judge_eval.json'}, judge_eval.md and judge_eval.html")
    return 0
