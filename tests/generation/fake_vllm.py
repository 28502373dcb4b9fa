"""A stand-in for the ``vllm`` package, for testing harc's vLLM backend without a GPU.

It records what harc builds (``LLM`` arguments, ``SamplingParams``, ``LoRARequest``, the
prompts) and answers in vLLM's output shape. Its "model" continues each prompt with a canned
token sequence, then does what vLLM does with it: stop at the first id in
``stop_token_ids`` (and only those, so a missing stop id shows), keep at most ``max_tokens``,
and decode the kept ids without special tokens.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

Continuation = Callable[[list[int]], list[int]]


class SamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["kwargs"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str = ""


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class RequestOutput:
    request_id: str
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = True


@dataclass
class GenerateCall:
    prompts: list[dict[str, Any]]
    params: SamplingParams
    use_tqdm: bool
    lora_request: LoRARequest | None


@dataclass
class FakeVLLM:
    """The fake package's state: every ``LLM`` built and every ``generate`` call."""

    tokenizer: Any
    continuation: Continuation
    llms: list[dict[str, Any]] = field(default_factory=list)
    calls: list[GenerateCall] = field(default_factory=list)

    def answer(self, ids: list[int], params: SamplingParams) -> CompletionOutput:
        new = self.continuation(ids)
        stops = set(params.stop_token_ids)
        end = next((i for i, token in enumerate(new) if token in stops), None)
        reason = "stop" if end is not None and end < params.max_tokens else "length"
        kept = new[: min(end if end is not None else len(new), params.max_tokens)]
        text = self.tokenizer.decode(kept, skip_special_tokens=params.skip_special_tokens)
        return CompletionOutput(0, text, kept, reason)

    @property
    def prompts(self) -> list[list[int]]:
        return [prompt["prompt_token_ids"] for call in self.calls for prompt in call.prompts]


def install(
    monkeypatch: pytest.MonkeyPatch, tokenizer: Any, continuation: Continuation
) -> FakeVLLM:
    """Put a fake ``vllm`` (with ``vllm.lora.request``) into ``sys.modules``."""
    state = FakeVLLM(tokenizer, continuation)

    class LLM:
        def __init__(self, model: str, **kwargs: Any) -> None:
            state.llms.append({"model": model, **kwargs})

        def generate(
            self,
            prompts: list[dict[str, Any]],
            sampling_params: SamplingParams,
            use_tqdm: bool = True,
            lora_request: LoRARequest | None = None,
        ) -> list[RequestOutput]:
            state.calls.append(GenerateCall(list(prompts), sampling_params, use_tqdm, lora_request))
            return [
                RequestOutput(str(i), p["prompt_token_ids"],
                              [state.answer(p["prompt_token_ids"], sampling_params)])
                for i, p in enumerate(prompts)
            ]

    modules = {name: types.ModuleType(name) for name in ("vllm", "vllm.lora", "vllm.lora.request")}
    for name, module in modules.items():
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        monkeypatch.setitem(sys.modules, name, module)
    vllm = modules["vllm"]
    vllm.LLM = LLM  # type: ignore[attr-defined]
    vllm.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    vllm.lora = modules["vllm.lora"]  # type: ignore[attr-defined]
    modules["vllm.lora"].request = modules["vllm.lora.request"]  # type: ignore[attr-defined]
    modules["vllm.lora.request"].LoRARequest = LoRARequest  # type: ignore[attr-defined]
    return state


def remove(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``vllm`` unimportable, as on a machine without it (``None`` in ``sys.modules``
    makes ``import vllm`` raise ImportError and ``find_spec("vllm")`` return None)."""
    for name in ("vllm", "vllm.lora", "vllm.lora.request"):
        monkeypatch.setitem(sys.modules, name, None)
