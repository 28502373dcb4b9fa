"""The models the benchmarks run on, by one spec string, on any device and dtype.

* ``tiny``: a 4-layer random Qwen2 of ``tests/tiny.py`` with its chat template;
* ``default``: the embedded default model (``harc.models.load_default``);
* ``random:Qwen/Qwen2.5-7B``: random weights of that architecture, built from the config values
  below (no download, no Hub access), with the tiny test tokenizer;
* anything else: a Hub id, model directory or GGUF file (``harc.models.load_model``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.tiny
    sys.path.insert(0, str(ROOT))

from harc.models.devices import resolve_device, resolve_dtype  # noqa: E402
from harc.models.loading import LoadedModel  # noqa: E402

# Qwen/Qwen2.5-7B's config.json (what the compute depends on; the rest are Qwen2Config defaults
# that do not change the cost, e.g. rope_theta).
ARCHITECTURES: dict[str, dict[str, int]] = {
    "qwen/qwen2.5-7b": dict(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
    ),
}
RANDOM = "random:"


def load(spec: str, dtype: str = "auto", device: str = "cpu") -> LoadedModel:
    if spec == "tiny":
        return tiny(dtype, device)
    if spec == "default":
        from harc.models import load_default

        return load_default(dtype=dtype, device=device)
    if spec.startswith(RANDOM):
        return random_architecture(spec.removeprefix(RANDOM), dtype, device)
    from harc.models import load_model

    return load_model(spec, dtype=dtype, device=device)


def tiny(dtype: str = "float32", device: str = "cpu") -> LoadedModel:
    from tests.tiny import template_for, tiny_model, tiny_tokenizer

    target = resolve_device(device)
    torch_dtype = resolve_dtype("float32" if dtype == "auto" else dtype, target)
    model = tiny_model("qwen2", num_layers=4).to(target, torch_dtype)
    tokenizer = tiny_tokenizer(template_for("qwen2"))
    return LoadedModel(model, tokenizer, "tiny-qwen2", "random", torch_dtype, target)


def random_architecture(name: str, dtype: str, device: str) -> LoadedModel:
    """Random weights of ``name``'s architecture, built directly in ``dtype`` on ``device``.

    Rows of the LM head past the tiny tokenizer's vocabulary, and those of its special tokens,
    are zeroed: a random model's logits there are 0 while the max over the other ~390 rows is
    positive, so greedy decoding never leaves the vocabulary or stops early (generation
    benchmarks then decode every requested token), at the full head's matmul cost."""
    from tests.tiny import SPECIAL_TOKENS, template_for, tiny_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM

    try:
        architecture = ARCHITECTURES[name.lower()]
    except KeyError:
        known = sorted(ARCHITECTURES)
        raise SystemExit(f"no embedded config for {name!r}; known: {known}") from None
    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)  # no float32 copy first: 30 GB for a 7B model
    try:
        with target:
            model = Qwen2ForCausalLM(Qwen2Config(**architecture, max_position_embeddings=4096))
    finally:
        torch.set_default_dtype(previous)
    tokenizer = tiny_tokenizer(template_for("qwen2"))
    with torch.no_grad():
        head = model.get_output_embeddings().weight
        head[len(tokenizer) :] = 0
        head[: len(SPECIAL_TOKENS)] = 0
    label = f"random-{name.rsplit('/', 1)[-1].lower()}-arch"
    return LoadedModel(model.eval(), tokenizer, label, "random", torch_dtype, target)
