"""Greedy decoding speed of harc's Generator, per dtype, as a fraction of this machine's limits.

    python benchmarks/generation.py                                  # embedded model, fp32 + bf16
    python benchmarks/generation.py --adapter runs/demo/03-train/adapter   # + LoRA rows
    python benchmarks/generation.py --model tiny --n-prompts 8       # smoke run (no download)
    python benchmarks/generation.py --naive                          # + one-prompt-at-a-time loop
    python benchmarks/generation.py --model random:Qwen/Qwen2.5-7B --device cuda \
        --dtypes bfloat16 --batch-size 64 --n-prompts 64  # the 7B architecture, random weights

Every row decodes the same prompts greedily (``--max-new-tokens``, ``--batch-size``); the
Generator's disk cache goes to a temporary folder so everything is really generated. Per row:

* tokens/s of useful output (tokens counted by re-tokenizing each decoded answer);
* prefill and decode seconds apart (the prefill is timed by a 1-token run of the same batches);
* decode FLOP/s (2 x matmul parameters x rows x steps, finished rows included, since the
  hardware computes them) as a fraction of the measured bf16 / fp32 matmul peak, and the
  weight bytes read per decode step as a fraction of the measured memory bandwidth
  (``benchmarks/roofline.py``, run first);
* greedy agreement with the first row: identical answers, and the mean share of the
  reference's characters up to the first difference.

``--adapter`` adds the LoRA model two ways: PEFT's unmerged adapter, and the adapter folded
into a copy of the weights (:func:`harc.models.merging.merged_copy`, what evaluation uses).
Each dtype runs in its own process. Writes ``runs/benchmarks/generation.json`` atomically.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harc.io import write_json_atomic  # noqa: E402
from roofline import load_limits, peak_bandwidth, peak_flops  # noqa: E402

if TYPE_CHECKING:  # the parent process only launches the workers: no transformers there
    from harc.generation import GenerationSettings, Generator

TOPICS = [
    "the water cycle", "how vaccines work", "the history of the printing press",
    "binary search", "photosynthesis", "the French revolution", "compound interest",
    "how a bicycle gear works", "black holes", "the rules of chess", "sourdough bread",
    "public-key cryptography", "plate tectonics", "the immune system", "jazz music",
    "recursion in programming",
]
STYLES = [
    "Explain {t}.",
    "Write a short paragraph for a curious ten-year-old about {t}.",
    "Give three key facts about {t}, each with one sentence of explanation, and then a summary.",
    "What is {t}?",
]


def make_prompts(n: int) -> list[str]:
    """``n`` distinct prompts (the Generator answers a repeated prompt once, so repeats would
    shrink the real batch and double-count tokens)."""
    if n > len(TOPICS) * len(STYLES):
        raise SystemExit(f"at most {len(TOPICS) * len(STYLES)} distinct prompts, asked {n}")
    return [STYLES[(i // len(TOPICS)) % len(STYLES)].format(t=TOPICS[i % len(TOPICS)])
            for i in range(n)]


def matmul_parameters(model: Any) -> tuple[int, int]:
    """(parameters of every linear layer in the decoder blocks, of the LM head)."""
    head = model.get_output_embeddings()
    body = sum(
        module.weight.numel()
        for module in model.modules()
        if isinstance(module, torch.nn.Linear) and module is not head
    )
    return body, head.weight.numel()


def weight_bytes(model: Any) -> int:
    """Bytes of the weights one decode step reads (the input embedding reads one row only)."""
    embedding = model.get_input_embeddings().weight
    tied = embedding.data_ptr() == model.get_output_embeddings().weight.data_ptr()
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    return total if tied else total - embedding.numel() * embedding.element_size()


def decode_steps(generator: Generator, outputs: list[str], texts: list[str],
                 batch_size: int) -> int:
    """Rows x steps the decode loop ran: each length-sorted batch runs until its longest
    answer (plus the stop token) is out."""
    tokenizer = generator.tokenizer
    lengths = {text: len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts}
    order = sorted(range(len(texts)), key=lambda i: -lengths[texts[i]])
    total = 0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        longest = max(len(tokenizer(outputs[i], add_special_tokens=False)["input_ids"])
                      for i in batch)
        total += len(batch) * longest
    return total


def timed(run: Callable[[], list[str]]) -> tuple[list[str], float]:
    start = time.perf_counter()
    outputs = run()
    return outputs, time.perf_counter() - start


def agreement(reference: list[str], outputs: list[str]) -> dict[str, float]:
    """Identical answers, and the mean share of each reference answer's characters before the
    first difference (1 for an identical answer)."""
    identical = sum(a == b for a, b in zip(reference, outputs, strict=True))
    shares = []
    for ref, out in zip(reference, outputs, strict=True):
        common = next((i for i, (x, y) in enumerate(zip(ref, out, strict=False)) if x != y),
                      min(len(ref), len(out)))
        shares.append(1.0 if ref == out else common / max(len(ref), 1))
    return {"identical": identical, "n": len(reference),
            "mean_shared_prefix": sum(shares) / len(shares)}


def measure_row(label: str, model: Any, tokenizer: Any, prompts: list[str],
                settings: GenerationSettings, limits: dict[str, Any] | None,
                dtype: torch.dtype) -> tuple[dict[str, Any], list[str]]:
    from harc.generation import GenerationSettings, Generator

    with tempfile.TemporaryDirectory() as cache_dir:
        generator = Generator(model, tokenizer, cache_dir=Path(cache_dir), progress=False)
        generator.generate(prompts[:2], GenerationSettings(max_new_tokens=2))  # warm-up
        texts = [generator.chat.format(prompt) for prompt in prompts]
        prefill_settings = GenerationSettings(max_new_tokens=1, batch_size=settings.batch_size)
        generator.cache_dir = Path(cache_dir) / "prefill"
        _, prefill_seconds = timed(lambda: generator.generate(prompts, prefill_settings))
        generator.cache_dir = Path(cache_dir) / "full"
        outputs, seconds = timed(lambda: generator.generate(prompts, settings))
        rows_steps = decode_steps(generator, outputs, texts, settings.batch_size)
    tokens = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in outputs)
    decode_seconds = max(seconds - prefill_seconds, 1e-9)
    body, head = matmul_parameters(model)
    decode_flops = 2 * (body + head) * rows_steps / decode_seconds
    batches = -(-len(prompts) // settings.batch_size)
    steps = rows_steps / settings.batch_size  # approximate when the last batch is short
    bandwidth = weight_bytes(model) * steps / decode_seconds
    name = str(dtype).removeprefix("torch.")
    peak, band = peak_flops(limits, name), peak_bandwidth(limits)
    row = {
        "row": label, "dtype": name, "seconds": seconds, "tokens": tokens,
        "tokens_per_s": tokens / seconds, "prefill_seconds": prefill_seconds,
        "decode_seconds": decode_seconds, "batches": batches, "rows_x_steps": rows_steps,
        "decode_flops_per_s": decode_flops, "weight_bytes_per_s": bandwidth,
        "fraction_of_matmul_peak": decode_flops / peak if peak else None,
        "fraction_of_bandwidth": bandwidth / band if band else None,
    }
    return row, outputs


def worker(args: argparse.Namespace, dtype_name: str) -> dict[str, Any]:
    """Every row of one dtype, in this process."""
    from bench_models import load
    from harc.generation import GenerationSettings

    limits = load_limits()
    prompts = make_prompts(args.n_prompts)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    loaded = load(args.model, dtype_name, args.device)
    model, tokenizer, name = loaded.model, loaded.tokenizer, loaded.name
    dtype = next(model.parameters()).dtype
    variants: list[tuple[str, Any, GenerationSettings]] = [("base", model, settings)]
    if args.naive:
        variants.append(("base, batch 1", model, GenerationSettings(
            max_new_tokens=args.max_new_tokens, batch_size=1)))
    rows, outputs = [], {}

    def measure(label: str, target: Any, row_settings: GenerationSettings) -> None:
        row, answers = measure_row(f"{label} {dtype_name}", target, tokenizer, prompts,
                                   row_settings, limits, dtype)
        rows.append(row)
        outputs[label] = answers

    for label, target, row_settings in variants:
        measure(label, target, row_settings)
    if args.adapter is not None:  # after the base rows: PEFT injects its layers into ``model``
        from peft import PeftModel

        from harc.models.merging import merged_copy

        peft_model = PeftModel.from_pretrained(model, str(args.adapter)).eval()
        measure("LoRA unmerged", peft_model, settings)
        # What evaluation generates with: the adapter folded into a copy of the weights.
        measure("LoRA merged copy", merged_copy(peft_model), settings)
    return {"model": name, "rows": rows, "outputs": outputs}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default",
                        help="default | tiny | random:Qwen/Qwen2.5-7B (benchmarks/bench_models.py)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--n-prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--naive", action="store_true", help="add a one-prompt-per-call row")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "runs" / "benchmarks" / "generation.json")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args, args.worker)))
        return {}
    limits = load_limits()
    if limits is None:
        print("no runs/benchmarks/roofline.json: run benchmarks/roofline.py for the fractions")
    rows: list[dict[str, Any]] = []
    first: dict[str, list[str]] = {}
    name = args.model
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:])]
    for dtype_name in args.dtypes.split(","):
        # One process per dtype: in one process, bf16 decoding after fp32 ran measured 3x
        # slower than in a fresh process (allocator / kernel-cache state), which is not what
        # a user running one dtype sees.
        completed = subprocess.run([sys.executable, __file__, *passthrough, "--worker", dtype_name],
                                   capture_output=True, text=True, check=True)
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        name = result["model"]
        for row in result["rows"]:
            label = row["row"].rsplit(" ", 1)[0]
            family = "LoRA" if label.startswith("LoRA") else "base"
            answers = result["outputs"][label]
            first.setdefault(family, answers)
            row["agreement_with_first"] = agreement(first[family], answers)
            rows.append(row)
            print(f"{row['row']:<30}{row['tokens_per_s']:>9.1f} tok/s  "
                  f"prefill {row['prefill_seconds']:.1f} s  decode {row['decode_seconds']:.1f} s  "
                  f"{_fraction(row['fraction_of_matmul_peak'])} of matmul peak, "
                  f"{_fraction(row['fraction_of_bandwidth'])} of bandwidth; identical to "
                  f"the first {family} row {row['agreement_with_first']['identical']}/"
                  f"{args.n_prompts}", flush=True)
    report = {
        "model": name, "torch_threads": torch.get_num_threads(), "n_prompts": args.n_prompts,
        "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
        "device": args.device,
        "limits": limits, "rows": rows,
    }
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")
    return report


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


if __name__ == "__main__":
    main()
