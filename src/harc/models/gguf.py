"""Load GGUF checkpoints as plain (dequantized) transformers models, and cache them.

transformers reads a ``.gguf`` through ``from_pretrained(..., gguf_file=...)`` and dequantizes
the weights to dense tensors, but it leaves the GGUF quantizer attached to the model:

* ``model.hf_quantizer`` (a ``GgufHfQuantizer``): ``save_pretrained`` refuses to save because
  ``hf_quantizer.is_serializable()`` is False, and ``Trainer`` refuses to train a model whose
  ``is_quantized`` is set and whose ``hf_quantizer.is_trainable`` is False;
* ``model.is_quantized = True`` and ``model.quantization_method = "gguf"``: ``.float()`` /
  ``.half()`` raise, and PEFT skips ``enable_input_require_grads`` (so LoRA with gradient
  checkpointing gets no gradients);
* ``config.quantization_config`` (a ``GgufConfig``) and ``config._is_quantized = True``: saved
  into config.json they would make the next ``from_pretrained`` look for a quantizer again.

:func:`detach_quantizer` removes all of these. The dense model and its tokenizer are then
written as safetensors under ``cache_subdir("models")/<key>`` so the next load skips the
(slow) dequantization.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from harc.cache import cache_subdir
from harc.errors import HarcError

CACHE_FORMAT = 1
_MARKER = "harc-gguf-cache.json"


@dataclass(frozen=True)
class GGUFInfo:
    """The few metadata facts of a GGUF file that harc reports or acts on."""

    architecture: str
    name: str | None
    block_count: int | None
    hidden_size: int | None
    head_count: int | None
    context_length: int | None
    tokenizer_model: str | None
    has_chat_template: bool
    file_type: int | None


def read_gguf_info(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read a GGUF file's header with the ``gguf`` package (tensors are memory-mapped, not read)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def get(key: str) -> Any:
        field = reader.fields.get(key)
        return None if field is None else field.contents()

    arch = get("general.architecture")
    if not isinstance(arch, str):
        raise HarcError(f"{path}: GGUF metadata has no general.architecture")
    return GGUFInfo(
        architecture=arch,
        name=get("general.name"),
        block_count=get(f"{arch}.block_count"),
        hidden_size=get(f"{arch}.embedding_length"),
        head_count=get(f"{arch}.attention.head_count"),
        context_length=get(f"{arch}.context_length"),
        tokenizer_model=get("tokenizer.ggml.model"),
        has_chat_template=bool(get("tokenizer.chat_template")),
        file_type=get("general.file_type"),
    )


def detach_quantizer(model: nn.Module) -> list[str]:
    """Strip the GGUF quantizer transformers leaves on a dequantized model; return what went.

    Only call this on a model whose weights are dense tensors (what :func:`load_gguf` makes).
    Idempotent; safe on a model that never had a quantizer.
    """
    removed: list[str] = []
    for module in model.modules():
        config = getattr(module, "config", None)
        for attr in ("hf_quantizer", "quantization_method"):
            if attr in vars(module):
                delattr(module, attr)
                removed.append(attr)
        if vars(module).get("is_quantized"):
            module.is_quantized = False
            removed.append("is_quantized")
        if config is not None:
            if "quantization_config" in vars(config):
                delattr(config, "quantization_config")
                removed.append("config.quantization_config")
            if getattr(config, "_is_quantized", False):
                config._is_quantized = False
                removed.append("config._is_quantized")
    return sorted(set(removed))


def gguf_cache_key(path: str | os.PathLike[str], dtype: torch.dtype) -> str:
    """Cache key of a GGUF file: sha256 of its absolute path, size, mtime and the load dtype."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    text = f"v{CACHE_FORMAT}|{resolved}|{stat.st_size}|{stat.st_mtime_ns}|{dtype}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def gguf_cache_dir(path: str | os.PathLike[str], dtype: torch.dtype) -> Path:
    """Where :func:`load_gguf` keeps the dense safetensors copy of ``path`` in ``dtype``."""
    return cache_subdir("models") / gguf_cache_key(path, dtype)


def _gguf_quantization_config() -> Any:
    """Ask transformers to dequantize everything at load (newer versions may keep blocks packed)."""
    try:
        from transformers import GgufConfig
    except ImportError:  # transformers < 5: always dequantizes
        return None
    try:
        return GgufConfig(dequantize=True)
    except TypeError:
        return None


def _load_from_gguf(path: Path, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": str(path), "dtype": dtype}
    qconfig = _gguf_quantization_config()
    if qconfig is not None:
        kwargs["quantization_config"] = qconfig
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), **kwargs)
    detach_quantizer(model)
    return model, tokenizer


def _remove_stale_temps(target: Path, max_age_s: float = 3600.0) -> None:
    """Delete temp dirs an interrupted earlier write left beside ``target`` (GBs each)."""
    now = time.time()
    for stale in target.parent.glob(f".{target.name}.*"):
        try:
            if stale.is_dir() and now - stale.stat().st_mtime > max_age_s:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            continue


def _write_cache(model: Any, tokenizer: Any, target: Path, meta: dict[str, Any]) -> None:
    """Save model + tokenizer into a temp dir beside ``target`` and rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / _MARKER).is_file():  # not a concurrent writer that won: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_gguf(
    path: str | os.PathLike[str], *, dtype: torch.dtype = torch.float32, cache: bool = True
) -> tuple[Any, Any, GGUFInfo]:
    """Load a ``.gguf`` as a dense, trainable, saveable transformers causal LM.

    Returns ``(model, tokenizer, info)``. With ``cache`` the dense model is read from (or, on
    the first load, written to) ``cache_subdir("models")/<key>`` as safetensors.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(path).resolve()
    if not gguf_path.is_file():
        raise HarcError(f"GGUF file not found: {gguf_path}")
    info = read_gguf_info(gguf_path)
    target = gguf_cache_dir(gguf_path, dtype) if cache else None
    if target is not None and (target / _MARKER).is_file():
        model = AutoModelForCausalLM.from_pretrained(target, dtype=dtype, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(target, local_files_only=True)
        detach_quantizer(model)
        return model, tokenizer, info

    model, tokenizer = _load_from_gguf(gguf_path, dtype)
    if target is not None:
        meta = {"format": CACHE_FORMAT, "gguf": str(gguf_path), "dtype": str(dtype)}
        meta["info"] = asdict(info)
        _write_cache(model, tokenizer, target, meta)
    return model, tokenizer, info
