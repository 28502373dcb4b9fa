"""bfloat16 on a CPU without native bf16 kernels: PyTorch's own path against harc's float32
matmuls (``harc.models.cpu_bf16``), and how close either comes to answers recorded elsewhere.

    python benchmarks/cpu_bf16.py                                  # ~1 h on 2 AVX2 cores
    python benchmarks/cpu_bf16.py --batches 1 --modes routed,float32   # ~10 min

Per mode, in its own process (the routing is process-wide): ``routed`` (bf16, matmuls of 16+
rows in float32: what ``load_model`` does on such a CPU), ``emulated`` (bf16, PyTorch's kernel),
``float32``. Each times one forward of 4 x 256 tokens and regenerates the base model's greedy
answers to the first ``--batches`` length-sorted batches of the direct HarmBench prompts in
``benchmarks/results/compare-full/base.json.gz`` (96 new tokens, batches of 32: the batches
that record was generated in, on a CPU with native bf16). Reported against the record and
between modes: identical answers, the mean shared prefix, and the keyword judge's verdicts
(the compliance column's judge) that agree. Also a matmul table (896 -> 4864 and the
151936-row head, 1 to 256 rows: PyTorch's bf16 kernel, a float32 model's product, the routed
bf16 product with its widening). Writes ``runs/benchmarks/cpu_bf16.json`` atomically.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generation import agreement  # noqa: E402
from harc.io import write_json_atomic  # noqa: E402

RECORD = ROOT / "benchmarks/results/compare-full/base.json.gz"
MODES = ("routed", "emulated", "float32")


def record_answers(section: str = "direct") -> tuple[list[str], list[str]]:
    with gzip.open(RECORD) as file:
        record = json.loads(file.read())
    found = [s for s in record["result"]["sections"] if s["name"] == section]
    if not found:
        raise SystemExit(f"{RECORD}: no section {section!r}")
    samples = found[0]["samples"]
    return [s["prompt"] for s in samples], [s["output"] for s in samples]


def compare_answers(reference: list[str], outputs: list[str]) -> dict[str, float]:
    from harc.judges.keyword import KeywordJudge

    judge = KeywordJudge()
    first, second = (judge.judge(reference, texts) for texts in (reference, outputs))
    same = sum(a.harmful == b.harmful for a, b in zip(first, second, strict=True))
    return {**agreement(reference, outputs), "same_keyword_verdict": same}


def matmul_table() -> list[dict[str, Any]]:
    import torch
    import torch.nn.functional as F

    from harc.models.cpu_bf16 import Float32Matmuls

    def ms(x: Any, weight: Any, repeats: int) -> float:
        F.linear(x, weight)
        started = time.perf_counter()
        for _ in range(repeats):
            F.linear(x, weight)
        return (time.perf_counter() - started) / repeats * 1e3

    rows = []
    for out_features in (4864, 151936):
        weight = torch.randn(out_features, 896, dtype=torch.bfloat16)
        weight32 = weight.float()
        for n_rows in (1, 8, 32, 256):
            x = torch.randn(n_rows, 896, dtype=torch.bfloat16)
            repeats = 1 if out_features > 100_000 and n_rows > 32 else 3
            row = {"shape": f"{n_rows}x896 @ 896x{out_features}",
                   "bf16_ms": ms(x, weight, repeats),
                   "float32_ms": ms(x.float(), weight32, repeats)}
            with Float32Matmuls():
                row["routed_ms"] = ms(x, weight, repeats)
            rows.append(row)
    return rows


def worker(mode: str, batches: int, batch_size: int) -> dict[str, Any]:
    import torch

    from harc.generation import GenerationSettings, Generator
    from harc.models import load_default
    from harc.models.cpu_bf16 import stop_routing_bf16_matmuls
    from harc.positions import chat_format

    loaded = load_default(dtype="float32" if mode == "float32" else "bfloat16")
    if mode == "emulated":
        stop_routing_bf16_matmuls()
    prompts, _ = record_answers()
    chat = chat_format(loaded)
    with tempfile.TemporaryDirectory() as cache_dir:
        generator = Generator(loaded.model, loaded.tokenizer, chat=chat, cache_dir=Path(cache_dir),
                              progress=True)
        # The record's batches: length-sorted as the generator sorts them, first `batches`.
        lengths = {p: generator._length(chat.format(p)) for p in prompts}
        chosen = sorted(prompts, key=lambda p: -lengths[p])[: batches * batch_size]
        ids = torch.randint(1000, 20000, (4, 256), generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            started = time.perf_counter()
            loaded.model(input_ids=ids)
            forward_s = time.perf_counter() - started
        settings = GenerationSettings(max_new_tokens=96, batch_size=batch_size)
        started = time.perf_counter()
        outputs = generator.generate(chosen, settings)
        generate_s = time.perf_counter() - started
    return {"mode": mode, "forward_4x256_s": forward_s, "generate_s": generate_s,
            "prompts": chosen, "outputs": outputs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--batches", type=int, default=5, help="batches of 32 (5 = all 159)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=ROOT / "runs/benchmarks/cpu_bf16.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.batches, args.batch_size)
        print("RESULT " + json.dumps(result))
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"--modes: unknown {sorted(unknown)}; use {', '.join(MODES)}")
    from harc.models.devices import cpu_flags, native_bf16

    prompts, recorded = record_answers()
    reference = dict(zip(prompts, recorded, strict=True))
    runs: dict[str, dict[str, Any]] = {}
    for mode in modes:
        command = [sys.executable, __file__, "--worker", mode, "--batches", str(args.batches),
                   "--batch-size", str(args.batch_size)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        runs[mode] = json.loads(line.removeprefix("RESULT "))
        run = runs[mode]
        run["vs_record"] = compare_answers([reference[p] for p in run["prompts"]], run["outputs"])
        same = run["vs_record"]
        print(f"{mode:9s} forward 4x256 {run['forward_4x256_s']:7.1f} s  generate "
              f"{run['generate_s']:7.1f} s  identical to record {same['identical']}/{same['n']}"
              f"  shared prefix {same['mean_shared_prefix']:.2f}  same keyword verdict "
              f"{same['same_keyword_verdict']}", flush=True)
    between = {}
    for i, first in enumerate(modes):
        for second in modes[i + 1:]:
            pair = f"{first}~{second}"
            between[pair] = compare_answers(runs[first]["outputs"], runs[second]["outputs"])
            print(f"{first} vs {second}: {between[pair]}")
    table = matmul_table()
    for row in table:
        print(f"{row['shape']:24s} bf16 {row['bf16_ms']:8.1f} ms  float32 {row['float32_ms']:8.1f}"
              f" ms  routed {row['routed_ms']:8.1f} ms")
    write_json_atomic(args.out, {
        "cpu_native_bf16": native_bf16("cpu"),
        "cpu_flags_bf16": sorted(f for f in cpu_flags() if "bf16" in f or "amx" in f),
        "record": str(RECORD.relative_to(ROOT)), "batches": args.batches,
        "batch_size": args.batch_size, "runs": runs, "between_modes": between, "matmuls": table,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
