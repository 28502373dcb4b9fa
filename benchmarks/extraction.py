"""Extraction throughput vs a plain batched forward pass over the same prompts.

Both sides tokenize the same chat-formatted prompts, use the same length-sorted batches and
run under inference mode; the plain side is ``model(input_ids, attention_mask)`` (full logits),
the extraction side is :func:`harc.activations.capture_prompts` at t_inst and t_post for every
residual slot. Goal: extraction >= 0.9x the plain forward's prompts/s.

    python benchmarks/extraction.py                  # the embedded default model
    python benchmarks/extraction.py --model tiny     # a tiny random model (smoke run)
    python benchmarks/extraction.py --model random:Qwen/Qwen2.5-7B --device cuda --dtype bf16

``--model``: see ``benchmarks/bench_models.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_models import load
from harc.activations import capture_prompts
from harc.data import builtin_prompts
from harc.io import write_json_atomic
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, collate


@torch.inference_mode()
def plain_forward(
    loaded: LoadedModel, chat: ChatFormat, prompts: list[str], batch_size: int
) -> None:
    encodings = sorted((chat.encode(text) for text in prompts), key=lambda e: len(e.input_ids))
    pad = loaded.tokenizer.pad_token_id
    for start in range(0, len(encodings), batch_size):
        batch = collate(encodings[start : start + batch_size], pad).to(loaded.device)
        loaded.model(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False
        )
    if loaded.device.type == "cuda":  # capture syncs by copying to the CPU; this must too
        torch.cuda.synchronize()


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="default", help="'default', 'tiny', 'random:NAME' "
                        "or a model path/id")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--n-prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/extraction.json"))
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    loaded = load(args.model, args.dtype, args.device)
    chat = ChatFormat(loaded.tokenizer)
    pool = [p.text for p in builtin_prompts("harmful")] + [
        p.text for p in builtin_prompts("harmless")
    ]
    prompts = pool[: args.n_prompts]
    n_tokens = sum(len(chat.encode(text).input_ids) for text in prompts)

    def run_plain() -> None:
        plain_forward(loaded, chat, prompts, args.batch_size)

    def run_capture() -> None:
        capture_prompts(loaded.model, chat, prompts, batch_size=args.batch_size, progress=False)

    run_plain()  # warm-up (allocator, kernels)
    # Alternate the two so that load from other processes hits both alike.
    plain: list[float] = []
    capture: list[float] = []
    for _ in range(args.repeats):
        plain += timed(run_plain, 1)
        capture += timed(run_capture, 1)
    plain_s, capture_s = statistics.median(plain), statistics.median(capture)
    result = {
        "model": loaded.name,
        "device": str(loaded.device),
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "n_prompts": len(prompts),
        "n_tokens": n_tokens,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "plain_forward_s": plain_s,
        "extraction_s": capture_s,
        "plain_prompts_per_s": len(prompts) / plain_s,
        "extraction_prompts_per_s": len(prompts) / capture_s,
        "ratio_extraction_over_plain": plain_s / capture_s,
        "goal": ">= 0.9",
        "all_times": {"plain": plain, "extraction": capture},
        "load_average_1m": os.getloadavg()[0],
    }
    table = Table(
        title=f"Extraction vs plain forward ({loaded.name}, {len(prompts)} prompts, "
        f"{n_tokens} tokens, batch {args.batch_size})"
    )
    for column in ("method", "median s", "prompts/s", "tokens/s"):
        table.add_column(column, justify="right")
    table.add_row(
        "plain forward (full logits)",
        f"{plain_s:.2f}",
        f"{len(prompts) / plain_s:.1f}",
        f"{n_tokens / plain_s:.0f}",
    )
    table.add_row(
        "harc extraction (all slots, 2 positions)",
        f"{capture_s:.2f}",
        f"{len(prompts) / capture_s:.1f}",
        f"{n_tokens / capture_s:.0f}",
    )
    console = Console()
    console.print(table)
    console.print(
        f"throughput ratio extraction / plain = {plain_s / capture_s:.2f}x (goal >= 0.9x)"
    )
    write_json_atomic(args.out, result)
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
