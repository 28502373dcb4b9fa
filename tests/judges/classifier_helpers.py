"""Helpers for the classifier-judge tests: write template files, capture what a model is fed,
score by hand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def template_file(tmp_path, text: str, name: str = "template.txt") -> str:
    """Writes ``text`` to ``tmp_path / name`` (UTF-8) and returns the path as a string."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@contextmanager
def captured_inputs(model) -> Iterator[list[list[int]]]:
    """Records the unpadded input ids of every full-input forward call on ``model`` (the
    one-token steps of cached generation are skipped)."""
    seen: list[list[int]] = []

    def hook(module, args, kwargs):
        ids, mask = kwargs["input_ids"], kwargs.get("attention_mask")
        if mask is not None and mask.shape[-1] != ids.shape[-1]:
            return
        for row in range(ids.shape[0]):
            keep = mask[row].bool() if mask is not None else slice(None)
            seen.append(ids[row][keep].tolist())

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()


def hand_ratio(model, ids: list[int], first: int, second: int) -> float:
    """p(first) / (p(first) + p(second)) of the next token after ``ids``, over the full vocab."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
    probs = torch.softmax(logits.double(), -1)
    return (probs[first] / (probs[first] + probs[second])).item()


@contextmanager
def nan_logits(model) -> Iterator[None]:
    def hook(module, args, output):
        return torch.full_like(output, float("nan"))

    handle = model.get_output_embeddings().register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
