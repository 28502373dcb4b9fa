"""Optional vLLM backend with the :class:`~harc.generation.Generator` interface.

vLLM is imported only when a :class:`VLLMGenerator` is built; without it a HarcError says how
to install it. vLLM runs the weights itself, so forward-hook contexts (steering) are not
supported here: use the transformers backend for those.

The prompts vLLM receives are the token ids the transformers backend would feed (the chat
formatted text, tokenized without extra special tokens), decoding stops at the same stop ids
(eos and the template's end-of-turn token) and a PEFT adapter is served as a vLLM LoRA
request whose name and id come from the adapter's digest, so they are stable across runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

from harc.errors import HarcError
from harc.generation.base import CachedGenerator
from harc.generation.settings import GenerationSettings
from harc.generation.stopping import stop_token_ids
from harc.models.identity import adapter_digest
from harc.positions import ChatFormat

# The ``max_lora_rank`` values vLLM accepts; an adapter's rank is rounded up to one of them.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


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


def lora_rank(adapter: str | Path) -> int:
    """The ``max_lora_rank`` vLLM needs for a PEFT adapter: its largest rank, rounded up to a
    value vLLM accepts (vLLM's default, 16, is below harc's default rank of 32)."""
    path = Path(adapter) / "adapter_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        ranks = [int(config["r"]), *(int(r) for r in (config.get("rank_pattern") or {}).values())]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HarcError(f"{path}: cannot read the LoRA rank ({exc})") from exc
    largest = max(ranks)
    for allowed in VLLM_LORA_RANKS:
        if largest <= allowed:
            return allowed
    raise HarcError(f"{adapter}: LoRA rank {largest} is above vLLM's maximum {VLLM_LORA_RANKS[-1]}")


def lora_request(vllm_lora: Any, adapter: str | Path, digest: str) -> Any:
    """A ``vllm.lora.request.LoRARequest`` for ``adapter``; name and id derive from ``digest``
    (the adapter's sha256), so the same adapter always gets the same ones and a retrained
    adapter never reuses the weights vLLM loaded for the old one."""
    lora_id = int(digest[:8], 16) % (2**31 - 1) + 1  # vLLM needs a positive int32
    return vllm_lora.LoRARequest(f"harc-{digest[:16]}", lora_id, str(Path(adapter).resolve()))


class VLLMGenerator(CachedGenerator):
    """Generation with ``vllm.LLM``. ``model`` is a model name/path or a ready ``vllm.LLM``.

    ``adapter``: a PEFT LoRA adapter directory served on top of the base weights. When vLLM
    is built here, LoRA is switched on with a ``max_lora_rank`` that fits the adapter (unless
    ``llm_kwargs`` says otherwise); a ready ``vllm.LLM`` must have been built with
    ``enable_lora=True``. The adapter's digest is part of the cache key, so a retrained
    adapter is never answered from the old one's cache.
    """

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
        adapter: str | Path | None = None,
        **llm_kwargs: Any,
    ) -> None:
        vllm = import_vllm()
        super().__init__(
            tokenizer, chat=chat, model_key=model_key, cache_dir=cache_dir, progress=progress
        )
        self._vllm = vllm
        self.stop_ids = stop_token_ids(tokenizer, self.chat)
        if not self.stop_ids:
            raise HarcError("the tokenizer has no eos token and the template no end-of-turn token")
        self.adapter_sha: str | None = None
        self.lora_request: Any = None
        if adapter is not None:
            self.adapter_sha = adapter_digest(adapter)
            vllm_lora = importlib.import_module("vllm.lora.request")
            self.lora_request = lora_request(vllm_lora, adapter, self.adapter_sha)
            llm_kwargs.setdefault("enable_lora", True)
            llm_kwargs.setdefault("max_lora_rank", lora_rank(adapter))
        if isinstance(model, (str, Path)):
            self.llm = vllm.LLM(model=str(model), **llm_kwargs)
        elif llm_kwargs and set(llm_kwargs) - {"enable_lora", "max_lora_rank"}:
            raise HarcError(
                f"vLLM options {sorted(llm_kwargs)} were given with a ready vllm.LLM; "
                "pass them when building it, or pass the model name/path instead"
            )
        else:
            self.llm = model

    def sampling_params(self, settings: GenerationSettings) -> Any:
        """``vllm.SamplingParams`` for ``settings``: greedy is temperature 0 with no seed;
        sampling uses exactly ``temperature``/``top_p`` and a per-request ``seed``."""
        sample = settings.do_sample
        return self._vllm.SamplingParams(
            n=1,
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature if sample else 0.0,
            top_p=settings.top_p if sample else 1.0,
            seed=settings.seed if sample else None,
            stop_token_ids=list(self.stop_ids),
            skip_special_tokens=True,
        )

    def prompt_ids(self, text: str) -> list[int]:
        """The token ids of a formatted prompt, exactly as the transformers backend feeds them."""
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if not ids:
            raise HarcError(f"formatted prompt {text!r} has no tokens; nothing to continue")
        return ids

    def _cache_settings(self, settings: GenerationSettings) -> dict[str, Any]:
        fields = super()._cache_settings(settings)
        if self.adapter_sha is not None:
            fields["adapter"] = self.adapter_sha[:16]
        return fields

    def _generate_batch(self, texts: list[str], settings: GenerationSettings) -> list[str]:
        prompts = [{"prompt_token_ids": self.prompt_ids(text)} for text in texts]
        outputs = self.llm.generate(
            prompts, self.sampling_params(settings), use_tqdm=False,
            lora_request=self.lora_request,
        )
        if len(outputs) != len(texts):
            raise HarcError(f"vLLM returned {len(outputs)} outputs for {len(texts)} prompts")
        return [output.outputs[0].text for output in outputs]
