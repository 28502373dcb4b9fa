"""Locate the stack of decoder blocks of a causal LM, whatever the family.

HARC reads the residual stream entering each decoder block (slot L = 0..n-1) plus the state
leaving the last block (slot n). Everything downstream needs the ``nn.ModuleList`` of blocks;
this module finds it without naming model families: first through the attribute paths that
transformers' decoder-only models use, then by looking for the ModuleList whose length equals
the config's layer count.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from harc.errors import UnknownArchitectureError

# Attribute paths (relative to the model, or to any wrapper peeled off below) where
# transformers keeps the repeated blocks. Order matters only for speed: the first hit wins
# and every candidate is checked against the config's layer count when there is one.
BLOCK_PATHS: tuple[str, ...] = (
    "model.layers",
    "layers",
    "model.language_model.layers",
    "language_model.model.layers",
    "language_model.layers",
    "model.decoder.layers",
    "decoder.layers",
    "transformer.h",
    "transformer.layers",
    "transformer.blocks",
    "gpt_neox.layers",
    "model.transformer.h",
    "backbone.layers",
    "h",
    "blocks",
)

# Wrappers put around a model (PEFT's PeftModel -> LoraModel -> the model; DDP/compile).
_WRAPPER_ATTRS: tuple[str, ...] = ("base_model", "model", "module", "_orig_mod")

_LAYER_COUNT_KEYS: tuple[str, ...] = ("num_hidden_layers", "n_layer", "num_layers")


def _get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _expected_layers(model: nn.Module) -> int | None:
    """The decoder layer count the config declares (the text config for multimodal models)."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    configs = []
    get_text = getattr(config, "get_text_config", None)
    if callable(get_text):
        try:
            configs.append(get_text(decoder=True))
        except TypeError:
            configs.append(get_text())
    configs.append(getattr(config, "text_config", None))
    configs.append(config)
    for cfg in configs:
        if cfg is None:
            continue
        for key in _LAYER_COUNT_KEYS:
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value > 0:
                return value
    return None


def _unwrap_chain(model: nn.Module) -> list[nn.Module]:
    """The model, then each wrapped model inside it (PEFT, DDP, torch.compile), outermost first."""
    chain = [model]
    seen = {id(model)}
    current = model
    while True:
        inner = None
        for attr in _WRAPPER_ATTRS:
            candidate = getattr(current, attr, None)
            if isinstance(candidate, nn.Module) and id(candidate) not in seen:
                inner = candidate
                break
        if inner is None:
            return chain
        chain.append(inner)
        seen.add(id(inner))
        current = inner


def _is_block_list(candidate: Any, expected: int | None) -> bool:
    if not isinstance(candidate, nn.ModuleList) or len(candidate) == 0:
        return False
    return expected is None or len(candidate) == expected


def find_decoder_blocks(model: nn.Module) -> nn.ModuleList:
    """Return the ``nn.ModuleList`` holding the model's repeated decoder blocks.

    Works on plain transformers models, PEFT-wrapped ones and multimodal wrappers with a
    language model inside. Raises :class:`UnknownArchitectureError` naming the model class
    when no block list can be identified.
    """
    expected = _expected_layers(model)
    chain = _unwrap_chain(model)
    for level in chain:
        if expected is None:
            expected = _expected_layers(level)
        for path in BLOCK_PATHS:
            candidate = _get_path(level, path)
            if _is_block_list(candidate, expected):
                return candidate

    # Fallback: the longest ModuleList whose length matches the declared layer count.
    if expected is not None:
        best: nn.ModuleList | None = None
        for module in model.modules():
            if _is_block_list(module, expected) and (best is None or len(module) > len(best)):
                best = module
        if best is not None:
            return best

    declared = f"config declares {expected} layers" if expected else "no layer count in config"
    raise UnknownArchitectureError(
        f"cannot locate the decoder blocks of {type(model).__name__} "
        f"(tried {', '.join(BLOCK_PATHS)} and a ModuleList matching the layer count; "
        f"{declared}). Pass a model whose repeated blocks live in an nn.ModuleList."
    )


def num_residual_slots(model: nn.Module) -> int:
    """Residual positions HARC reads: one entering each block plus the one leaving the last."""
    return len(find_decoder_blocks(model)) + 1


def forward_module(model: nn.Module) -> nn.Module:
    """The module whose ``forward`` runs once per step when ``model`` generates: a PEFT
    wrapper's ``generate`` calls its inner model, so a hook on the wrapper never fires."""
    inner = getattr(model, "get_base_model", None)
    return inner() if callable(inner) else model
