"""Generated tokens/s: harc's batched Generator vs a naive one-prompt-at-a-time loop.

    python benchmarks/generation.py                 # the embedded default model
    python benchmarks/generation.py --model tiny    # a tiny random model (no download)

Both sides decode greedily with a KV cache and stop at the same tokens; the Generator's disk
cache goes to a temporary folder so every prompt is really generated. Tokens are counted by
re-tokenizing each decoded output, the same way for both. Writes
``runs/benchmarks/generation.json`` atomically.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harc.generation import GenerationSettings, Generator  # noqa: E402
from harc.io import write_json_atomic  # noqa: E402

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
    return [STYLES[i % len(STYLES)].format(t=TOPICS[i % len(TOPICS)]) for i in range(n)]


def load(name: str) -> tuple[Any, Any, str]:
    if name == "tiny":
        from tests.tiny import template_for, tiny_model, tiny_tokenizer

        tokenizer = tiny_tokenizer(template_for("qwen2"))
        return tiny_model("qwen2", num_layers=4), tokenizer, "tiny-qwen2"
    from harc.models import load_default

    loaded = load_default()
    return loaded.model, loaded.tokenizer, loaded.name


def naive_loop(
    generator: Generator, prompts: list[str], settings: GenerationSettings
) -> list[str]:
    """One ``model.generate`` call per prompt, same decoding config as the Generator."""
    model, tokenizer = generator.model, generator.tokenizer
    device = next(model.parameters()).device
    config = generator.generation_config(settings)
    outputs = []
    for prompt in prompts:
        text = generator.chat.format(prompt)
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(device), generation_config=config)
        outputs.append(generator.decode_new_tokens(out[0, ids.shape[1] :].tolist()))
    return outputs


def count_tokens(tokenizer: Any, texts: list[str]) -> int:
    return sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default", choices=["default", "tiny"])
    parser.add_argument("--n-prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    default_out = ROOT / "runs" / "benchmarks" / "generation.json"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)

    model, tokenizer, name = load(args.model)
    prompts = make_prompts(args.n_prompts)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    rows = []
    with tempfile.TemporaryDirectory() as cache_dir:
        generator = Generator(model, tokenizer, cache_dir=Path(cache_dir), progress=False)
        naive_loop(generator, prompts[:1], GenerationSettings(max_new_tokens=2))  # warm-up
        runs = {
            "naive_loop": lambda: naive_loop(generator, prompts, settings),
            f"generator_batch{args.batch_size}": lambda: generator.generate(prompts, settings),
        }
        results = {}
        for label, run in runs.items():
            start = time.perf_counter()
            outputs = run()
            seconds = time.perf_counter() - start
            tokens = count_tokens(tokenizer, outputs)
            results[label] = outputs
            rows.append({"method": label, "seconds": seconds, "tokens": tokens,
                         "tokens_per_s": tokens / seconds})
    naive, batched = (results[key] for key in runs)
    report = {
        "model": name,
        "device": str(next(model.parameters()).device),
        "dtype": str(next(model.parameters()).dtype),
        "torch_threads": torch.get_num_threads(),
        "n_prompts": args.n_prompts,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "rows": rows,
        "speedup_tokens_per_s": rows[1]["tokens_per_s"] / rows[0]["tokens_per_s"],
        "identical_outputs": sum(a == b for a, b in zip(naive, batched, strict=True)),
    }
    print(f"model={name} prompts={args.n_prompts} max_new_tokens={args.max_new_tokens}")
    print(f"{'method':<20}{'seconds':>10}{'tokens':>10}{'tokens/s':>12}")
    for row in rows:
        print(f"{row['method']:<20}{row['seconds']:>10.2f}{row['tokens']:>10}"
              f"{row['tokens_per_s']:>12.1f}")
    print(f"speedup {report['speedup_tokens_per_s']:.2f}x; identical greedy outputs "
          f"{report['identical_outputs']}/{args.n_prompts}")
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
