"""Pick a generation backend."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from harc.errors import HarcError
from harc.generation.base import CachedGenerator
from harc.generation.generator import ContextFactory, Generator
from harc.generation.vllm_backend import VLLMGenerator, vllm_available
from harc.positions import ChatFormat

Backend = Literal["auto", "transformers", "vllm"]

logger = logging.getLogger(__name__)


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
    ``context`` is given; otherwise transformers (a bare name/path then raises, saying why).
    ``vllm_kwargs`` (e.g. ``adapter=``, ``gpu_memory_utilization=``) go to
    :class:`VLLMGenerator`; the transformers backend refuses them rather than drop them.
    """
    common = {"chat": chat, "model_key": model_key, "cache_dir": cache_dir, "progress": progress}
    is_path = isinstance(model, (str, Path))
    if backend == "auto":
        backend, reason = _auto_backend(is_path, context is not None)
        missing = is_path and context is None and backend == "transformers"
        logger.log(logging.WARNING if missing else logging.INFO,
                   "generation backend: %s (%s)", backend, reason)
    if backend == "vllm":
        if context is not None:
            raise HarcError("the vLLM backend cannot run forward-hook contexts; use 'transformers'")
        return VLLMGenerator(model, tokenizer, **common, **vllm_kwargs)
    if backend == "transformers":
        if is_path:
            hint = (
                ""
                if vllm_available() or context is not None
                else " (vLLM, which can take a path, is not installed: `pip install vllm` on a "
                "CUDA GPU)"
            )
            raise HarcError(
                f"backend 'transformers' needs a loaded model, got the path {str(model)!r}; "
                f"load it with harc.models.load_model first{hint}"
            )
        if vllm_kwargs:
            raise HarcError(
                f"vLLM options {sorted(vllm_kwargs)} were given but the transformers backend "
                "is used; apply an adapter with PEFT before building the generator"
            )
        return Generator(model, tokenizer, **common, context=context)
    raise HarcError(f"unknown generation backend {backend!r}; use 'auto', 'transformers' or 'vllm'")


def _auto_backend(is_path: bool, has_context: bool) -> tuple[Backend, str]:
    if not is_path:
        return "transformers", "a loaded model"
    if has_context:
        return "transformers", "forward-hook contexts need the transformers backend"
    if not vllm_available():
        return "transformers", "vLLM is not installed; `pip install vllm` on a CUDA GPU"
    return "vllm", "vLLM is installed and the model is a name/path"
