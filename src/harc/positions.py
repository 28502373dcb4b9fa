"""Chat-template positions: ``t_inst`` (last token of the user's text) and ``t_post`` (last
token of the formatted prompt), found by the placeholder method (HARC_METHOD §2).

The template is rendered once around a placeholder; the text before and after it is the
per-tokenizer prefix and suffix. A prompt is then ``prefix + text + suffix`` and ``t_inst`` is
the token covering the last character of ``text`` (by the tokenizer's offset mapping), so no
model family's template is ever written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from harc.errors import ChatTemplateError, TruncationError

PLACEHOLDER = "HARC_PLACEHOLDER_7f3a"
RAW_TEMPLATE_FIELD = "{instruction}"


@dataclass(frozen=True, slots=True)
class EncodedPrompt:
    """Token ids of one formatted prompt (optionally followed by a response)."""

    input_ids: list[int]
    t_inst: int
    t_post: int
    response_start: int | None = None  # first response token; None for prompt-only encodings

    @property
    def response_length(self) -> int:
        return 0 if self.response_start is None else len(self.input_ids) - self.response_start


@dataclass(slots=True)
class Batch:
    """Left-padded batch. Positions are indices into the padded sequence."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    t_inst: torch.Tensor
    t_post: torch.Tensor
    response_mask: torch.Tensor  # 1 on response tokens, 0 elsewhere

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            *(
                tensor.to(device)
                for tensor in (
                    self.input_ids,
                    self.attention_mask,
                    self.t_inst,
                    self.t_post,
                    self.response_mask,
                )
            )
        )


class ChatFormat:
    """Formats user prompts with a chat template and locates t_inst / t_post in the tokens."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        raw_template: str | None = None,
        system_prompt: str | None = None,
        max_length: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.prefix, self.suffix = _split_template(tokenizer, raw_template, system_prompt)

    @property
    def template_tokens_after_inst(self) -> int:
        """P: template tokens between t_inst and t_post, measured on a placeholder prompt."""
        encoded = self.encode("Hello")
        return encoded.t_post - encoded.t_inst

    def format(self, text: str) -> str:
        return self.prefix + text + self.suffix

    def encode(self, text: str) -> EncodedPrompt:
        if not text.strip():
            raise ChatTemplateError("cannot encode an empty prompt")
        formatted = self.format(text)
        inst_end_char = len(self.prefix) + len(text) - 1
        ids, offsets = _tokenize_with_offsets(self.tokenizer, formatted)
        t_inst = max(
            (
                index
                for index, (start, end) in enumerate(offsets)
                if start <= inst_end_char and end > start
            ),
            default=None,
        )
        if t_inst is None:
            raise ChatTemplateError(
                f"could not locate the user text in the tokens of {text[:60]!r}"
            )
        encoded = EncodedPrompt(input_ids=ids, t_inst=t_inst, t_post=len(ids) - 1)
        self._check_length(encoded, len(ids), text)
        return encoded

    def encode_pair(self, prompt: str, response: str, *, append_eos: bool = False) -> EncodedPrompt:
        """Prompt followed by a response; only the response is truncated to ``max_length``."""
        encoded = self.encode(prompt)
        response_ids = self.tokenizer(response, add_special_tokens=False)["input_ids"]
        if append_eos and self.tokenizer.eos_token_id is not None:
            response_ids = [*response_ids, self.tokenizer.eos_token_id]
        if not response_ids:
            raise ChatTemplateError(f"empty response for prompt {prompt[:60]!r}")
        ids = encoded.input_ids + response_ids
        if self.max_length is not None:
            ids = ids[: self.max_length]
        return EncodedPrompt(
            ids, encoded.t_inst, encoded.t_post, response_start=len(encoded.input_ids)
        )

    def _check_length(self, encoded: EncodedPrompt, length: int, text: str) -> None:
        if self.max_length is None or length <= self.max_length:
            return
        raise TruncationError(
            f"prompt of {length} tokens exceeds max_length={self.max_length}; truncating would cut "
            f"t_inst (position {encoded.t_inst}) or the template after it. Raise max_length or "
            f"shorten the prompt: {text[:80]!r}"
        )


def chat_format(loaded: Any, *, max_length: int | None = None) -> ChatFormat:
    """The prompt formatter of a loaded model: its chat template, or the raw ``--template``
    it was loaded with (``loaded.template``); the one way every method formats prompts."""
    return ChatFormat(loaded.tokenizer, raw_template=getattr(loaded, "template", None),
                      max_length=max_length)


def collate(encodings: Sequence[EncodedPrompt], pad_token_id: int) -> Batch:
    """Left-pad a list of encodings into one batch."""
    if not encodings:
        raise ValueError("cannot collate an empty list of prompts")
    width = max(len(item.input_ids) for item in encodings)
    size = len(encodings)
    input_ids = torch.full((size, width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((size, width), dtype=torch.long)
    response_mask = torch.zeros((size, width), dtype=torch.long)
    t_inst = torch.empty(size, dtype=torch.long)
    t_post = torch.empty(size, dtype=torch.long)
    for row, item in enumerate(encodings):
        pad = width - len(item.input_ids)
        input_ids[row, pad:] = torch.tensor(item.input_ids, dtype=torch.long)
        attention_mask[row, pad:] = 1
        t_inst[row] = item.t_inst + pad
        t_post[row] = item.t_post + pad
        if item.response_start is not None:
            response_mask[row, pad + item.response_start :] = 1
    return Batch(input_ids, attention_mask, t_inst, t_post, response_mask)


def _split_template(
    tokenizer: PreTrainedTokenizerBase, raw_template: str | None, system_prompt: str | None
) -> tuple[str, str]:
    if raw_template is not None:
        if raw_template.count(RAW_TEMPLATE_FIELD) != 1:
            raise ChatTemplateError(
                f"a raw template must contain {RAW_TEMPLATE_FIELD} exactly once, "
                f"got {raw_template!r}"
            )
        prefix, suffix = raw_template.split(RAW_TEMPLATE_FIELD)
        return prefix, suffix
    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateError(
            f"{type(tokenizer).__name__} has no chat template; pass a raw template containing "
            f"{RAW_TEMPLATE_FIELD} (e.g. '### Instruction:\\n{{instruction}}\\n### Response:\\n')"
        )
    messages = [{"role": "user", "content": PLACEHOLDER}]
    if system_prompt is not None:
        messages.insert(0, {"role": "system", "content": system_prompt})
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not isinstance(rendered, str) or rendered.count(PLACEHOLDER) != 1:
        raise ChatTemplateError(
            "the chat template does not reproduce the user text verbatim exactly once; "
            "pass a raw template instead"
        )
    prefix, suffix = rendered.split(PLACEHOLDER)
    if not suffix:
        raise ChatTemplateError(
            "the chat template adds nothing after the user text, so t_post == t_inst"
        )
    return prefix, suffix


def _tokenize_with_offsets(
    tokenizer: PreTrainedTokenizerBase, text: str
) -> tuple[list[int], list[tuple[int, int]]]:
    if tokenizer.is_fast:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(encoded["input_ids"]), [tuple(pair) for pair in encoded["offset_mapping"]]
    # Slow tokenizers have no offsets: grow the text token by token and map each to its span.
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    offsets: list[tuple[int, int]] = []
    consumed = 0
    for index in range(len(ids)):
        decoded = tokenizer.decode(ids[: index + 1])
        end = min(len(decoded), len(text))
        offsets.append((consumed, end))
        consumed = end
    return list(ids), offsets
