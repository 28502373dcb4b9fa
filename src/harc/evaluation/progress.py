"""One overall progress bar for an evaluation, fed by a generator wrapper."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

CHUNK_BATCHES = 4


class Progress:
    """An overall bar in evaluation items (one per goal x attack or benchmark sample)."""

    def __init__(self, total: int, *, enabled: bool = True) -> None:
        self.bar = tqdm(total=total, desc="evaluating", unit="item", disable=not enabled)
        self._section_start = 0
        self._section_size = 0

    def start(self, label: str, size: int) -> None:
        self.bar.set_postfix_str(label)
        self._section_start = self.bar.n
        self._section_size = size

    def advance(self, count: int) -> None:
        room = self._section_start + self._section_size - self.bar.n
        self.bar.update(max(0, min(count, room)))

    def finish_section(self) -> None:
        self.advance(self._section_start + self._section_size - self.bar.n)

    def close(self) -> None:
        self.bar.close()


class ProgressGenerator:
    """Wraps a generator: same outputs, generated in length-sorted chunks of a few batches so
    the overall bar moves during long sections. Counts its calls (``calls``) for tests."""

    def __init__(self, inner: Any, progress: Progress | None) -> None:
        self.inner = inner
        self.progress = progress
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, prompts: Sequence[str], settings: Any = None) -> list[str]:
        return self._chunked(self.inner.generate, prompts, settings)

    def generate_formatted(self, texts: Sequence[str], settings: Any = None) -> list[str]:
        return self._chunked(self.inner.generate_formatted, texts, settings)

    def _chunked(self, call: Any, texts: Sequence[str], settings: Any) -> list[str]:
        texts = list(texts)
        self.calls += 1
        args = () if settings is None else (settings,)
        size = getattr(settings, "batch_size", 8) * CHUNK_BATCHES
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        outputs: list[str] = [""] * len(texts)
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            for index, output in zip(chunk, call([texts[i] for i in chunk], *args), strict=True):
                outputs[index] = output
            if self.progress is not None:
                self.progress.advance(len(chunk))
        return outputs
