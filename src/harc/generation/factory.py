"""Pick a generation backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from harc.errors import HarcError
from harc.generation.base import CachedGenerator
from harc.generation.generator import ContextFactory, Generator
from harc.generation.vllm_backend import VLLMGenerator, vllm_available
from harc.positions import ChatFormat

Backend = Literal["auto", "transformers", "vllm"]


def make_generator(
    model: Any,
    tokenizer: Any,
    backend: Backend = "auto",
    *,
    chat: ChatFormat | None = None,
    model_key: str = "model",
    cache_dir: Path | None = None,
    progress: bool = True,
    context: ContextFactory | None = None,
    **vllm_kwargs: Any,
) -> CachedGenerator:
    """A generator for ``model``.

    ``transformers`` needs a loaded model; ``vllm`` a model name/path (or a ``vllm.LLM``).
    ``auto`` uses vLLM only when it is installed, ``model`` is a name/path and no hook
    ``context`` is given; otherwise transformers (a bare name/path then raises).
    """
    common = {"chat": chat, "model_key": model_key, "cache_dir": cache_dir, "progress": progress}
    is_path = isinstance(model, (str, Path))
    if backend == "auto":
        backend = "vllm" if is_path and context is None and vllm_available() else "transformers"
    if backend == "vllm":
        if context is not None:
            raise HarcError("the vLLM backend cannot run forward-hook contexts; use 'transformers'")
        return VLLMGenerator(model, tokenizer, **common, **vllm_kwargs)
    if backend == "transformers":
        if is_path:
            raise HarcError(
                f"backend 'transformers' needs a loaded model, got the path {str(model)!r}; "
                "load it with harc.models.load_model first"
            )
        return Generator(model, tokenizer, **common, context=context)
    raise HarcError(f"unknown generation backend {backend!r}; use 'auto', 'transformers' or 'vllm'")
