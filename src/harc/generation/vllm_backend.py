"""Optional vLLM backend with the :class:`~harc.generation.Generator` interface.

vLLM is imported only when a :class:`VLLMGenerator` is built; without it a HarcError says how
to install it. vLLM runs the weights itself, so forward-hook contexts (steering) are not
supported here: use the transformers backend for those.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from harc.errors import HarcError
from harc.generation.base import CachedGenerator
from harc.generation.settings import GenerationSettings
from harc.generation.stopping import stop_token_ids
from harc.positions import ChatFormat


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def import_vllm() -> Any:
    try:
        return importlib.import_module("vllm")
    except ImportError as exc:
        raise HarcError(
            "the vLLM backend was requested but `vllm` is not installed "
            f"({exc}); install it with `pip install vllm` (needs a CUDA GPU) or use "
            "backend='transformers'"
        ) from exc


class VLLMGenerator(CachedGenerator):
    """Generation with ``vllm.LLM``. ``model`` is a model name/path or a ready ``vllm.LLM``."""

    backend = "vllm"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        chat: ChatFormat | None = None,
        model_key: str = "model",
        cache_dir: Path | None = None,
        progress: bool = True,
        **llm_kwargs: Any,
    ) -> None:
        vllm = import_vllm()
        super().__init__(
            tokenizer, chat=chat, model_key=model_key, cache_dir=cache_dir, progress=progress
        )
        self._vllm = vllm
        is_path = isinstance(model, (str, Path))
        self.llm = vllm.LLM(model=str(model), **llm_kwargs) if is_path else model
        self.stop_ids = stop_token_ids(tokenizer, self.chat)

    def _generate_batch(self, texts: list[str], settings: GenerationSettings) -> list[str]:
        params = self._vllm.SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature if settings.do_sample else 0.0,
            top_p=settings.top_p if settings.do_sample else 1.0,
            seed=settings.seed if settings.do_sample else None,
            stop_token_ids=self.stop_ids,
            skip_special_tokens=True,
        )
        prompts = [
            {"prompt_token_ids": self.tokenizer(text, add_special_tokens=False)["input_ids"]}
            for text in texts
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [output.outputs[0].text for output in outputs]
