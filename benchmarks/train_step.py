"""HARC training step vs a plain LoRA SFT step on the same batch and model.

Each variant runs in its own subprocess so peak memory is measured cleanly (CPU: peak RSS of
the process; CUDA: ``torch.cuda.max_memory_allocated``):

* ``sft``: plain LoRA SFT, the same sequences, next-token CE on the response tokens with the
  model's full logits (what TRL's SFTTrainer computes);
* ``harc``: HARC step as the trainer runs it (reference logits with the adapter disabled,
  hooks on the selected layers, logits only over the response columns, four loss terms);
* ``harc_two_copy``: the same HARC step, but with the KL reference computed by a second full
  copy of the base model, as in the authors' code, for the memory comparison.

Goals: HARC / SFT step time <= 1.1x, peak memory <= 1.1x, in float32 and in bfloat16 (median
of --steps after --warmup). Each row also gives its model FLOP/s (4 N per token, a lower bound
for LoRA) as a fraction of the matmul peak ``benchmarks/roofline.py`` measured for the dtype.

    python benchmarks/train_step.py                      # embedded default model, CPU
    python benchmarks/train_step.py --model tiny         # smoke run
    python benchmarks/train_step.py --model random:Qwen/Qwen2.5-7B --device cuda --dtype bfloat16

``--model``: see ``benchmarks/bench_models.py`` (``random:Qwen/Qwen2.5-7B`` needs no download).
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harc.io import write_json_atomic

VARIANTS = ("sft", "harc", "harc_two_copy")


def worker(args: argparse.Namespace) -> dict:
    # Imported here, not at the top: the parent process only launches the workers.
    import torch
    from peft import LoraConfig, get_peft_model

    from bench_models import load
    from harc.data import builtin_prompts
    from harc.directions import DirectionSet
    from harc.positions import ChatFormat
    from harc.training.config import HarcConfig
    from harc.training.step import (
        LossSettings,
        build_step_batch,
        compute_losses,
        reference_logits_for,
    )
    from roofline import load_limits, peak_flops

    loaded = load(args.model, args.dtype, args.device)
    config = HarcConfig.load(args.config)
    chat = ChatFormat(loaded.tokenizer, max_length=config.max_length)
    harmful = [p.text for p in builtin_prompts("harmful", "train")]
    harmless = [p.text for p in builtin_prompts("harmless", "train")]
    answer = (
        "Sure, here is a detailed answer. First, consider the overall goal and then break "
        "it down into concrete steps that anyone could follow at home."
    )
    refusal = "I'm sorry, but I can't help with that request. It could cause real harm."
    step_batch = build_step_batch(
        chat,
        [(p, refusal) for p in harmful[: config.batch_harmful]],
        [(p, answer) for p in harmful[config.batch_harmful : 2 * config.batch_harmful]],
        [(p, answer) for p in harmless[: config.batch_harmless + config.batch_pseudo]],
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    step_batch.batch = step_batch.batch.to(loaded.device)
    lora = config.lora
    reference_model = copy.deepcopy(loaded.model) if args.worker == "harc_two_copy" else None
    model = get_peft_model(
        loaded.model,
        LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    n_slots = loaded.model.config.num_hidden_layers + 1
    generator = torch.Generator().manual_seed(0)
    directions = DirectionSet(
        *(
            torch.nn.functional.normalize(
                torch.randn(n_slots, loaded.model.config.hidden_size, generator=generator), dim=-1
            )
            for _ in range(2)
        )
    )
    directions.harm_resp, directions.refusal_resp = (
        directions.harm.flip(0),
        directions.refusal.flip(0),
    )
    slots = [n_slots // 2 - 1, n_slots // 2 + 1]
    settings = LossSettings(config.margin, config.response_tokens, "harmful_answer")
    weights = config.weights.model_dump()
    batch = step_batch.batch
    labels = torch.where(batch.response_mask.bool(), batch.input_ids, -100)

    if loaded.device.type == "cuda":  # the peak of training, not of building the model
        torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        if args.worker == "sft":
            loss = model(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                labels=labels,
                use_cache=False,
            ).loss
        else:
            if reference_model is None:
                reference = reference_logits_for(model, step_batch)
            else:
                with torch.no_grad():
                    rows = step_batch.roles == 2
                    reference = reference_model(
                        input_ids=batch.input_ids[rows],
                        attention_mask=batch.attention_mask[rows],
                        logits_to_keep=step_batch.logit_columns,
                    ).logits
            terms = compute_losses(
                model, step_batch, directions, slots, settings, reference_logits=reference
            )
            loss = sum(weights[name] * value for name, value in terms.items())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if loaded.device.type == "cuda":
            torch.cuda.synchronize()

    times = []
    for index in range(args.warmup + args.steps):
        started = time.perf_counter()
        step()
        if index >= args.warmup:
            times.append(time.perf_counter() - started)
    tokens = int(batch.attention_mask.sum())
    result = {
        "variant": args.worker,
        "model": loaded.name,
        "rows": int(batch.input_ids.shape[0]),
        "tokens": tokens,
        "median_step_s": statistics.median(times),
        "step_times": times,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    n_params = sum(p.numel() for p in model.parameters())
    # LoRA: forward 2N + input gradient 2N FLOPs per token (frozen weights get no weight
    # gradient; attention and HARC's reference pass are not counted), so a lower bound.
    result["model_flops_per_s"] = 4 * n_params * tokens / result["median_step_s"]
    limits = load_limits()
    peak = peak_flops(limits, args.dtype) if limits and limits["device"] == args.device else None
    result["fraction_of_matmul_peak"] = result["model_flops_per_s"] / peak if peak else None
    if loaded.device.type == "cuda":
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
        # 6 N FLOPs per token for a forward+backward of a dense model (excluding attention)
        flops = 6 * n_params * tokens
        result["mfu_vs_989_tflops"] = flops / result["median_step_s"] / 989e12
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="default")
    parser.add_argument("--config", default="cpu-demo")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/train_step.json"))
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    results = {}
    for variant in args.variants.split(","):
        command = [
            sys.executable,
            __file__,
            "--worker",
            variant,
            "--model",
            args.model,
            "--config",
            args.config,
            "--dtype",
            args.dtype,
            "--device",
            args.device,
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        results[variant] = json.loads(completed.stdout.strip().splitlines()[-1])
        print(
            f"{variant}: median {results[variant]['median_step_s']:.2f} s, "
            f"peak RSS {results[variant]['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    memory_key = "peak_cuda_mb" if args.device.startswith("cuda") else "peak_rss_mb"
    summary = {
        "config": args.config,
        "device": args.device,
        "dtype": args.dtype,
        "memory_metric": memory_key,
        "variants": results,
    }
    if "sft" in results and "harc" in results:
        summary["time_ratio_harc_over_sft"] = (
            results["harc"]["median_step_s"] / results["sft"]["median_step_s"]
        )
        summary["memory_ratio_harc_over_sft"] = (
            results["harc"][memory_key] / results["sft"][memory_key]
        )
    if "harc_two_copy" in results and "harc" in results:
        summary["memory_ratio_two_copy_over_harc"] = (
            results["harc_two_copy"][memory_key] / results["harc"][memory_key]
        )
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"train step, {args.model} ({args.device}, {args.dtype}, config {args.config})"
    )
    for column in ("variant", "rows", "tokens", "median step s", memory_key,
                   "model GFLOP/s", "of matmul peak"):
        table.add_column(column, justify="right")
    for variant, row in results.items():
        fraction = row.get("fraction_of_matmul_peak")
        table.add_row(
            variant,
            str(row["rows"]),
            str(row["tokens"]),
            f"{row['median_step_s']:.3f}",
            f"{row[memory_key]:.0f}",
            f"{row['model_flops_per_s'] / 1e9:.1f}",
            "n/a (run roofline.py)" if fraction is None else f"{fraction:.0%}",
        )
    console = Console()
    console.print(table)
    for key in (
        "time_ratio_harc_over_sft",
        "memory_ratio_harc_over_sft",
        "memory_ratio_two_copy_over_harc",
    ):
        if key in summary:
            console.print(f"{key} = {summary[key]:.3f}")
    write_json_atomic(args.out, summary)
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
