"""Batched generation with a Hugging Face model: left padding, KV cache, eos / end-of-turn stop."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import torch
from transformers import GenerationConfig

from harc.errors import HarcError
from harc.generation.base import CachedGenerator
from harc.generation.settings import GenerationSettings
from harc.generation.stopping import stop_token_ids
from harc.models.cpu_bf16 import frozen_weight_copies
from harc.models.loading import contiguous_head_input
from harc.positions import ChatFormat

ContextFactory = Callable[[], AbstractContextManager[Any]]


class Generator(CachedGenerator):
    """``model.generate`` over length-sorted, left-padded batches, with a disk cache.

    ``context``: a factory whose context manager is entered around every ``model.generate``
    call, so inference-time interventions (e.g. activation-steering forward hooks) apply
    during generation and are removed afterwards. A generator with a context should get a
    ``model_key`` that names the intervention, or it will share cache entries with the plain
    model.
    """

    backend = "transformers"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        chat: ChatFormat | None = None,
        model_key: str = "model",
        cache_dir: Path | None = None,
        progress: bool = True,
        context: ContextFactory | None = None,
    ) -> None:
        super().__init__(
            tokenizer, chat=chat, model_key=model_key, cache_dir=cache_dir, progress=progress
        )
        self.model = contiguous_head_input(model)
        self.context = context
        self.stop_ids = stop_token_ids(tokenizer, self.chat, model)
        if not self.stop_ids:
            raise HarcError("the tokenizer has no eos token and the template no end-of-turn token")
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else self.stop_ids[0]

    def _generate_batch(self, texts: list[str], settings: GenerationSettings) -> list[str]:
        encoded = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
        for text, ids in zip(texts, encoded, strict=True):
            if not ids:
                raise HarcError(f"formatted prompt {text!r} has no tokens; nothing to continue")
        input_ids, attention_mask = _left_pad(encoded, self.pad_id)
        device = _model_device(self.model)
        config = self.generation_config(settings)
        context = self.context() if self.context is not None else nullcontext()
        with torch.inference_mode(), _seeded(settings, texts, device), context, \
                frozen_weight_copies():
            output = self.model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                generation_config=config,
            )
        new_tokens = output[:, input_ids.shape[1] :].tolist()
        return [self.decode_new_tokens(row) for row in new_tokens]

    def generation_config(self, settings: GenerationSettings) -> GenerationConfig:
        """A complete config, so the model's own generation defaults cannot change decoding."""
        sampling: dict[str, Any] = (
            {"temperature": settings.temperature, "top_p": settings.top_p, "top_k": 0}
            if settings.do_sample
            else {}
        )
        return GenerationConfig(
            max_new_tokens=settings.max_new_tokens,
            do_sample=settings.do_sample,
            num_beams=1,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
            use_cache=True,
            **sampling,
        )

    def decode_new_tokens(self, row: list[int]) -> str:
        """Text of newly generated ids, cut at the first stop token."""
        stops = set(self.stop_ids)
        end = next((index for index, token in enumerate(row) if token in stops), len(row))
        return self.tokenizer.decode(row[:end], skip_special_tokens=True)


def _left_pad(encoded: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, ids in enumerate(encoded):
        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, width - len(ids) :] = 1
    return input_ids, attention_mask


def _model_device(model: Any) -> torch.device:
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    return next(model.parameters()).device


@contextmanager
def _seeded(settings: GenerationSettings, texts: list[str], device: torch.device) -> Iterator[None]:
    """Sampling draws from an RNG seeded by ``settings.seed`` and the batch's prompts, so a batch
    samples the same way on every run; the global RNG state is restored afterwards."""
    if not settings.do_sample:
        yield
        return
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).digest()
    seed = (settings.seed * 1_000_003 + int.from_bytes(digest[:6], "big")) % (2**63)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
