"""Backend-independent generation: chat formatting, length-sorted batches, disk cache, progress."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from harc.cache import cache_subdir
from harc.generation.cache import GenerationCache
from harc.generation.settings import GenerationSettings
from harc.positions import ChatFormat

DEFAULT_SETTINGS = GenerationSettings()


class CachedGenerator(ABC):
    """Generates for many prompts, reusing earlier results from ``cache_dir``.

    ``model_key`` identifies the weights in the cache and MUST change when the weights change
    (e.g. ``f"{name}@{adapter_sha256}"``); ``cache_dir=None`` uses
    ``harc.cache.cache_subdir("generations")``. Subclasses implement :meth:`_generate_batch`.
    """

    backend: str = "base"

    def __init__(
        self,
        tokenizer: Any,
        *,
        chat: ChatFormat | None = None,
        model_key: str = "model",
        cache_dir: Path | None = None,
        progress: bool = True,
    ) -> None:
        self.tokenizer = tokenizer
        self.chat = chat if chat is not None else ChatFormat(tokenizer)
        self.model_key = model_key
        self.cache_dir = Path(cache_dir) if cache_dir is not None else cache_subdir("generations")
        self.progress = progress

    def generate(
        self, prompts: Sequence[str], settings: GenerationSettings = DEFAULT_SETTINGS
    ) -> list[str]:
        """Responses to user texts, formatted with ``self.chat``; in input order."""
        return self.generate_formatted([self.chat.format(prompt) for prompt in prompts], settings)

    def generate_formatted(
        self, texts: Sequence[str], settings: GenerationSettings = DEFAULT_SETTINGS
    ) -> list[str]:
        """Responses to already chat-formatted texts; only the new text, in input order."""
        texts = list(texts)
        if not texts:
            return []
        cache = GenerationCache(self.cache_dir, self.model_key, self._cache_settings(settings))
        results: list[str | None] = [cache.get(text) for text in texts]
        where: dict[str, list[int]] = {}
        for index, result in enumerate(results):
            if result is None:
                where.setdefault(texts[index], []).append(index)
        pending = list(where)
        if pending:
            lengths = {text: self._length(text) for text in pending}
            pending.sort(key=lambda text: -lengths[text])
            with tqdm(
                total=len(texts),
                initial=len(texts) - sum(len(indices) for indices in where.values()),
                desc="generating",
                unit="prompt",
                disable=not self.progress,
            ) as bar:
                for start in range(0, len(pending), settings.batch_size):
                    batch = pending[start : start + settings.batch_size]
                    outputs = self._generate_batch(batch, settings)
                    cache.put_many(batch, outputs)
                    for text, output in zip(batch, outputs, strict=True):
                        for index in where[text]:
                            results[index] = output
                        bar.update(len(where[text]))
        return [result if result is not None else "" for result in results]

    def _cache_settings(self, settings: GenerationSettings) -> dict[str, Any]:
        return {"backend": self.backend, **settings.cache_fields()}

    def _length(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @abstractmethod
    def _generate_batch(self, texts: list[str], settings: GenerationSettings) -> list[str]:
        """Generate for one batch of formatted texts; same order, one string each."""

