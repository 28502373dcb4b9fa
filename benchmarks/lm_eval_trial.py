"""Trial: can lm-evaluation-harness (``lm_eval``) score MMLU and GSM8K for harc, offline, from the
local data files, and does it agree with harc's own scorers on the same model and questions?

    OMP_NUM_THREADS=1 python benchmarks/lm_eval_trial.py                    # 100 MMLU, 30 GSM8K
    OMP_NUM_THREADS=1 python benchmarks/lm_eval_trial.py --limit 20 --gsm8k-limit 5

Needs ``pip install lm_eval==0.4.13`` (NOT a harc dependency; this is a measurement). Runs fully
offline: ``HF_HUB_OFFLINE=1`` / ``HF_DATASETS_OFFLINE=1`` are set before anything is imported,
and lm-eval reads the CSV / JSONL files under ``--data-root`` through the ``csv`` / ``json``
dataset builders (task YAMLs are written next to the output and loaded with
``TaskManager(include_path=..., include_defaults=False)``).

One model for both sides: the embedded default model in float32, wrapped for lm-eval as
``HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=...)``.

MMLU: harc's ``mmlu.run(limit=N, seed=0, k_shot=5)`` against one lm-eval task per subject that
reproduces lm-eval's stock ``mmlu`` (default) template: description "The following are multiple
choice questions (with answers) about <subject>.", ``first_n`` few-shot from the dev split,
``multiple_choice`` log-likelihood of " A".." D". The lm-eval side gets exactly harc's questions
(``samples={task: [row indices]}``). Compared per question: the prompt text (harc's
``build_prompt`` vs lm-eval's context), the predicted letter, and the letter scores (harc's
next-token logits and lm-eval's log-likelihoods differ only by the log-softmax normaliser, so
their centred values should be equal up to float noise).

GSM8K: harc's ``gsm8k.run`` (chat template, zero-shot, harc's instruction, greedy) against an
lm-eval task with the same prompt (``doc_to_text`` = harc's instruction + question,
``apply_chat_template=True``) and the stock ``gsm8k`` task's ``strict-match`` /
``flexible-extract`` filters and ``exact_match`` metric (read from lm-eval's own gsm8k.yaml).
Both generations are scored by both extractors, so generation and extraction differences are
reported separately. lm-eval's stock ``gsm8k`` task itself (5-shot "Question: .. Answer:"
examples drawn from the *train* split) cannot be reproduced: shared/data holds only the test split.

Measured (2026-12, 2 shared CPU cores, 1 torch thread, float32): MMLU 100 questions / 41
subjects, 0.29 accuracy both ways, 100/100 identical prompts and predictions, max centred score
gap 5.6e-5; harc 829 s (batch 8), lm-eval 891 s (batch 1, see --lm-eval-mc-batch-size), peak
RSS 7.7 GB. GSM8K 30 problems, 256 new tokens: 30/30 identical prompts and outputs; harc's
extractor 0.10, lm-eval flexible-extract 0.10 (same number extracted 30/30), strict-match 0.00
(it needs "#### N", which a chat model told to say "The answer is N" never writes); harc 390 s,
lm-eval 440 s.

Writes ``runs/lm_eval_trial/lm_eval_trial.json`` (``--out``) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "runs" / "lm_eval_trial" / "lm_eval_trial.json"
DEFAULT_DATA = Path("/work/shared/data")
LETTERS = ("A", "B", "C", "D")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=100, help="MMLU test questions (0: skip)")
    parser.add_argument("--gsm8k-limit", type=int, default=30, help="GSM8K problems (0: skip)")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="GSM8K generation cap")
    parser.add_argument("--seed", type=int, default=0, help="harc's subsample seed")
    parser.add_argument("--k-shot", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8, help="harc's batches, lm-eval GSM8K")
    parser.add_argument(
        "--lm-eval-mc-batch-size",
        type=int,
        default=1,
        help="lm-eval's MMLU batch: its loglikelihood path keeps [batch, seq, vocab] float32 "
        "logits and their log_softmax (~4 GB per 3,500-token 5-shot prompt on Qwen's 152k "
        "vocabulary), so 8 would need ~35 GB",
    )
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- task YAMLs


def _yaml_dump(config: dict[str, Any], file: Path) -> None:
    import yaml

    file.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


def write_mmlu_tasks(folder: Path, subjects: list[str], mmlu: Path, k_shot: int) -> dict[str, str]:
    """One YAML per subject, the stock ``mmlu`` default template on the local CSVs."""
    names = {}
    for subject in subjects:
        name = f"harc_local_mmlu_{subject}"
        config = {
            "task": name,
            "dataset_path": "csv",
            "dataset_kwargs": {
                "data_files": {
                    "test": str(mmlu / "test" / f"{subject}_test.csv"),
                    "dev": str(mmlu / "dev" / f"{subject}_dev.csv"),
                },
                # keep every cell a string: pandas' NA parsing turns the 10 test choices spelled
                # "None" into nulls (jinja happens to print them as "None" again; other NA
                # spellings such as "NA" or "nan" would not survive)
                "na_filter": False,
            },
            "test_split": "test",
            "fewshot_split": "dev",
            "fewshot_config": {"sampler": "first_n"},
            "num_fewshot": k_shot,
            "output_type": "multiple_choice",
            "description": "The following are multiple choice questions (with answers) about "
            f"{subject.replace('_', ' ')}.\n\n",
            # stock: "{{question.strip()}}\nA. {{choices[0]}}\n..." on cais/mmlu's `choices` list;
            # the local CSVs have choice0..choice3 columns instead
            "doc_to_text": "{{question.strip()}}\nA. {{choice0}}\nB. {{choice1}}\n"
            "C. {{choice2}}\nD. {{choice3}}\nAnswer:",
            "doc_to_choice": list(LETTERS),
            "doc_to_target": "answer",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0},
        }
        _yaml_dump(config, folder / f"{name}.yaml")
        names[subject] = name
    return names


def write_gsm8k_task(folder: Path, file: Path, max_new_tokens: int) -> str:
    """harc's GSM8K prompt with the stock gsm8k task's filters and metric."""
    import lm_eval
    import yaml

    from harc.evaluation.benchmarks.gsm8k import INSTRUCTION

    stock_file = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k.yaml"
    stock = yaml.safe_load(stock_file.read_text(encoding="utf-8"))
    name = "harc_local_gsm8k_chat"
    config = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(file)}},
        "test_split": "test",
        "output_type": "generate_until",
        "num_fewshot": 0,
        "doc_to_text": INSTRUCTION + "{{question.strip()}}",
        "doc_to_target": stock["doc_to_target"],
        "metric_list": stock["metric_list"],
        "filter_list": stock["filter_list"],
        "generation_kwargs": {
            "until": ["<|im_end|>", "<|endoftext|>"],
            "do_sample": False,
            "temperature": 0.0,
            "max_gen_toks": max_new_tokens,
        },
        "metadata": {"version": 1.0},
    }
    _yaml_dump(config, folder / f"{name}.yaml")
    return name


# --------------------------------------------------------------------------- lm-eval runs


def run_lm_eval(lm: Any, folder: Path, samples: dict[str, list[int]], **kwargs: Any) -> dict:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(folder), include_defaults=False)
    return simple_evaluate(
        model=lm,
        tasks=list(samples),
        task_manager=manager,
        samples=samples,
        log_samples=True,
        bootstrap_iters=0,
        **kwargs,
    )


def _context(sample: dict[str, Any]) -> str:
    arguments = sample["arguments"]
    first = arguments[0] if isinstance(arguments, list) else next(iter(arguments.values()))
    if isinstance(first, dict):
        return first.get("arg_0", next(iter(first.values())))
    return first[0]


# --------------------------------------------------------------------------- MMLU


def compare_mmlu(args: argparse.Namespace, loaded: Any, work: Path) -> dict[str, Any]:
    from harc.evaluation.benchmarks import mmlu

    directory = mmlu.mmlu_dir(args.data_root / "mmlu")
    started = time.perf_counter()
    ours = mmlu.run(
        loaded.model,
        loaded.tokenizer,
        k_shot=args.k_shot,
        limit=args.limit,
        seed=args.seed,
        batch_size=args.batch_size,
        path=directory,
    )
    harc_seconds = time.perf_counter() - started

    # the same selection mmlu.run makes: all test items in subject order, subsample(limit, seed)
    from harc.evaluation.benchmarks.common import subsample

    items = subsample(mmlu.load_mmlu("test", path=directory), args.limit, args.seed)
    assert [(i.subject, i.row) for i in items] == [
        (s.meta["subject"], s.meta["row"]) for s in ours.samples
    ], "selection differs from mmlu.run's"
    shots = {
        s: mmlu.load_mmlu("dev", subjects=[s], path=directory)[: args.k_shot]
        for s in {i.subject for i in items}
    }

    subjects = sorted({item.subject for item in items})
    tasks = work / "tasks_mmlu"
    tasks.mkdir(parents=True, exist_ok=True)
    names = write_mmlu_tasks(tasks, subjects, directory, args.k_shot)
    wanted: dict[str, list[int]] = defaultdict(list)
    for item in items:
        wanted[names[item.subject]].append(item.row - 1)  # row is 1-based, doc_id 0-based
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(
        pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=args.lm_eval_mc_batch_size
    )
    started = time.perf_counter()
    result = run_lm_eval(lm, tasks, dict(wanted))
    lm_seconds = time.perf_counter() - started

    by_key = {}
    for subject, name in names.items():
        for sample in result["samples"][name]:
            by_key[(subject, sample["doc_id"] + 1)] = sample

    rows = []
    for item, record in zip(items, ours.samples, strict=True):
        sample = by_key[(item.subject, item.row)]
        lls = [float(r[0]) for r in sample["filtered_resps"]]
        lm_pred = max(range(4), key=lambda k: (lls[k], -k))
        logits = record.meta["letter_logits"]
        centred_ll = [v - sum(lls) / 4 for v in lls]
        centred_logit = [v - sum(logits) / 4 for v in logits]
        harc_prompt = mmlu.build_prompt(item, shots[item.subject][: record.meta["shots"]])
        rows.append(
            {
                "subject": item.subject,
                "row": item.row,
                "answer": LETTERS[item.answer],
                "harc": record.output,
                "lm_eval": LETTERS[lm_pred],
                "lm_eval_acc": float(sample["acc"]),
                "same_prompt": _context(sample) == harc_prompt,
                "score_gap": max(
                    abs(a - b) for a, b in zip(centred_ll, centred_logit, strict=True)
                ),
                "harc_logits": logits,
                "lm_eval_loglik": [round(v, 4) for v in lls],
            }
        )
    n = len(rows)
    agree = sum(r["harc"] == r["lm_eval"] for r in rows)
    harc_correct = sum(r["harc"] == r["answer"] for r in rows)
    lm_correct = sum(r["lm_eval"] == r["answer"] for r in rows)
    lm_acc_reported = sum(r["lm_eval_acc"] for r in rows)
    return {
        "n": n,
        "subjects": len(subjects),
        "harc_accuracy": harc_correct / n,
        "lm_eval_accuracy": lm_correct / n,
        "lm_eval_acc_field_mean": lm_acc_reported / n,
        "agree": agree,
        "both_correct": sum(r["harc"] == r["answer"] == r["lm_eval"] for r in rows),
        "same_prompt": sum(r["same_prompt"] for r in rows),
        "max_centred_score_gap": max(r["score_gap"] for r in rows),
        "harc_seconds": round(harc_seconds, 1),
        "lm_eval_seconds": round(lm_seconds, 1),
        "harc_letter_token_variant": ours.config["letter_token_variant"],
        "disagreements": [r for r in rows if r["harc"] != r["lm_eval"]],
        "prompt_mismatches": [
            {"subject": r["subject"], "row": r["row"]} for r in rows if not r["same_prompt"]
        ],
        "rows": rows,
    }


# --------------------------------------------------------------------------- GSM8K


def lm_eval_extract(outputs: list[str]) -> dict[str, list[str]]:
    """The stock gsm8k filters (from lm-eval's gsm8k.yaml) applied to any outputs."""
    import lm_eval
    import yaml
    from lm_eval.filters.extraction import RegexFilter

    stock_file = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k.yaml"
    stock = yaml.safe_load(stock_file.read_text(encoding="utf-8"))
    extracted = {}
    for entry in stock["filter_list"]:
        regex = entry["filter"][0]
        kwargs = {"regex_pattern": regex["regex_pattern"]}
        if "group_select" in regex:
            kwargs["group_select"] = regex["group_select"]
        filtered = RegexFilter(**kwargs).apply([[o] for o in outputs], [{} for _ in outputs])
        extracted[entry["name"]] = [next(iter(f)) for f in filtered]
    return extracted


def lm_eval_match(predictions: list[str], targets: list[str]) -> list[bool]:
    """lm-eval's exact_match with the stock gsm8k settings, one prediction at a time."""
    import lm_eval
    import yaml
    from lm_eval.api.metrics import exact_match_hf_evaluate

    stock_file = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k.yaml"
    metric = yaml.safe_load(stock_file.read_text(encoding="utf-8"))["metric_list"][0]
    options = {k: metric[k] for k in ("ignore_case", "ignore_punctuation", "regexes_to_ignore")}
    return [
        bool(exact_match_hf_evaluate([p], [t], **options)["exact_match"])
        for p, t in zip(predictions, targets, strict=True)
    ]


def compare_gsm8k(args: argparse.Namespace, loaded: Any, work: Path) -> dict[str, Any]:
    from harc.evaluation.benchmarks import gsm8k
    from harc.evaluation.benchmarks.common import subsample
    from harc.generation import GenerationSettings, Generator

    file = args.data_root / "gsm8k" / "test.jsonl"
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    generator = Generator(
        loaded.model, loaded.tokenizer, cache_dir=work / "generation_cache", progress=False
    )
    # a fresh cache directory per run so the timing is real generation, not cache reads
    for old in (work / "generation_cache").glob("**/*"):
        if old.is_file():
            old.unlink()
    started = time.perf_counter()
    ours = gsm8k.run(
        generator, limit=args.gsm8k_limit, seed=args.seed, settings=settings, path=file
    )
    harc_seconds = time.perf_counter() - started
    items = subsample(gsm8k.load_gsm8k(file), args.gsm8k_limit, args.seed)

    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=args.batch_size)
    tasks = work / "tasks_gsm8k"
    tasks.mkdir(parents=True, exist_ok=True)
    name = write_gsm8k_task(tasks, file, args.max_new_tokens)
    started = time.perf_counter()
    result = run_lm_eval(
        lm, tasks, {name: [item.index for item in items]}, apply_chat_template=True
    )
    lm_seconds = time.perf_counter() - started
    # one logged sample per filter; the raw response is the same in each
    by_doc: dict[int, dict[str, Any]] = defaultdict(dict)
    for sample in result["samples"][name]:
        by_doc[sample["doc_id"]][sample["filter"]] = sample

    harc_outputs = [s.output for s in ours.samples]
    lm_outputs = [by_doc[i.index]["strict-match"]["resps"][0][0] for i in items]
    targets = [i.solution for i in items]
    harc_prompts = [generator.chat.format(gsm8k.build_prompt(i)) for i in items]
    same_prompt = [
        _context(by_doc[i.index]["strict-match"]) == p
        for i, p in zip(items, harc_prompts, strict=True)
    ]

    def harc_score(outputs: list[str]) -> list[bool]:
        return [gsm8k.is_correct(o, i.target) for o, i in zip(outputs, items, strict=True)]

    table: dict[str, dict[str, list[bool]]] = {}
    extracted: dict[str, dict[str, list[Any]]] = {}
    for source, outputs in (("harc_generation", harc_outputs), ("lm_eval_generation", lm_outputs)):
        lm_pred = lm_eval_extract(outputs)
        table[source] = {
            "harc_extract": harc_score(outputs),
            **{f: lm_eval_match(lm_pred[f], targets) for f in lm_pred},
        }
        extracted[source] = {
            "harc_extract": [gsm8k.extract_final_number(o) for o in outputs],
            **lm_pred,
        }
    # lm-eval's own reported per-sample metric, to check the offline re-scoring above
    reported = {
        f: [bool(by_doc[i.index][f]["exact_match"]) for i in items]
        for f in ("strict-match", "flexible-extract")
    }
    assert all(reported[f] == table["lm_eval_generation"][f] for f in reported), reported

    rows = []
    for k, item in enumerate(items):
        rows.append(
            {
                "index": item.index,
                "target": item.target,
                "same_prompt": same_prompt[k],
                "same_output": harc_outputs[k] == lm_outputs[k],
                **{
                    f"{src}/{ext}": {"pred": extracted[src][ext][k], "ok": table[src][ext][k]}
                    for src in table
                    for ext in table[src]
                },
                "harc_output": harc_outputs[k],
                "lm_eval_output": lm_outputs[k] if lm_outputs[k] != harc_outputs[k] else "(same)",
            }
        )
    n = len(items)
    return {
        "n": n,
        "max_new_tokens": args.max_new_tokens,
        "harc_seconds": round(harc_seconds, 1),
        "lm_eval_seconds": round(lm_seconds, 1),
        "same_prompt": sum(same_prompt),
        "same_output": sum(r["same_output"] for r in rows),
        "accuracy": {
            src: {ext: sum(v) / n for ext, v in scorers.items()} for src, scorers in table.items()
        },
        "harc_run_exact_match": ours.metrics["exact_match"].value,
        "extractor_agreement": {
            src: {
                ext: sum(a == b for a, b in zip(v, scorers["harc_extract"], strict=True))
                for ext, v in scorers.items()
                if ext != "harc_extract"
            }
            for src, scorers in table.items()
        },
        "rows": rows,
    }


# --------------------------------------------------------------------------- main


def print_table(report: dict[str, Any]) -> None:
    m = report.get("mmlu")
    if m:
        print(f"\nMMLU {m['n']} questions ({m['subjects']} subjects), {report['k_shot']}-shot")
        print(f"  {'':24}{'harc':>10}{'lm-eval':>10}")
        print(f"  {'accuracy':24}{m['harc_accuracy']:>10.3f}{m['lm_eval_accuracy']:>10.3f}")
        print(f"  {'seconds':24}{m['harc_seconds']:>10.1f}{m['lm_eval_seconds']:>10.1f}")
        print(
            f"  same prediction {m['agree']}/{m['n']}, same prompt text {m['same_prompt']}/{m['n']}"
            f", max centred score gap {m['max_centred_score_gap']:.2e}"
        )
        for r in m["disagreements"]:
            print(
                f"    differs: {r['subject']} row {r['row']}: harc {r['harc']} lm-eval "
                f"{r['lm_eval']} (answer {r['answer']}), logits {r['harc_logits']}"
            )
    g = report.get("gsm8k")
    if g:
        print(
            f"\nGSM8K {g['n']} problems, chat zero-shot, greedy, "
            f"<= {g['max_new_tokens']} new tokens"
        )
        extractors = list(next(iter(g["accuracy"].values())))
        print(f"  {'generation':22}" + "".join(f"{e:>18}" for e in extractors) + f"{'seconds':>10}")
        for src, scores in g["accuracy"].items():
            secs = g["harc_seconds"] if src.startswith("harc") else g["lm_eval_seconds"]
            print(
                f"  {src:22}"
                + "".join(f"{scores[e]:>18.3f}" for e in extractors)
                + f"{secs:>10.1f}"
            )
        print(
            f"  same prompt text {g['same_prompt']}/{g['n']}, "
            f"identical outputs {g['same_output']}/{g['n']}"
        )
        print(f"  extractor agreement with harc's: {g['extractor_agreement']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.out.parent
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_DATASETS_CACHE", str(work / "hf_datasets_cache"))

    import torch

    torch.set_num_threads(args.threads)
    import resource

    import lm_eval

    from harc.io import write_json_atomic
    from harc.models import load_default

    started = time.perf_counter()
    loaded = load_default(dtype=args.dtype)
    load_seconds = time.perf_counter() - started
    report: dict[str, Any] = {
        "model": loaded.name,
        "dtype": args.dtype,
        "lm_eval_version": lm_eval.__version__ if hasattr(lm_eval, "__version__") else "?",
        "torch_threads": args.threads,
        "batch_size": args.batch_size,
        "lm_eval_mc_batch_size": args.lm_eval_mc_batch_size,
        "seed": args.seed,
        "k_shot": args.k_shot,
        "load_seconds": round(load_seconds, 1),
        "offline": {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")},
    }
    if args.limit:
        report["mmlu"] = compare_mmlu(args, loaded, work)
        write_json_atomic(args.out, report)
    if args.gsm8k_limit:
        report["gsm8k"] = compare_gsm8k(args, loaded, work)
        write_json_atomic(args.out, report)
    report["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    write_json_atomic(args.out, report)
    print_table(report)
    print(f"peak RSS {report['peak_rss_gb']} GB")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
