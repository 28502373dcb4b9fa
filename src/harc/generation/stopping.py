"""Which token ids end a generation: eos, plus the chat template's end-of-turn token."""

from __future__ import annotations

from typing import Any

from harc.positions import ChatFormat


def is_special_token(tokenizer: Any, token_id: int) -> bool:
    if token_id in set(getattr(tokenizer, "all_special_ids", ())):
        return True
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    token = added.get(token_id)
    return bool(token is not None and getattr(token, "special", False))


def end_of_turn_id(tokenizer: Any, chat: ChatFormat) -> int | None:
    """The special token that closes the user's turn in the template (the first token of the
    suffix after the user text, e.g. ``<|im_end|>``, ``<|eot_id|>``, ``<end_of_turn>``).

    The assistant closes its own turn with the same token, so generation stops there. None when
    the suffix does not start with a special token (raw templates such as ``### Response:``).
    """
    ids = tokenizer(chat.suffix, add_special_tokens=False)["input_ids"]
    if not ids or not is_special_token(tokenizer, ids[0]):
        return None
    return int(ids[0])


def stop_token_ids(tokenizer: Any, chat: ChatFormat | None, model: Any = None) -> list[int]:
    """eos of the tokenizer and of the model's generation config, and the end-of-turn token."""
    found: list[int] = []

    def add(value: Any) -> None:
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is not None and int(item) not in found:
                found.append(int(item))

    add(getattr(tokenizer, "eos_token_id", None))
    config = getattr(model, "generation_config", None)
    if config is not None:
        add(getattr(config, "eos_token_id", None))
    if chat is not None:
        add(end_of_turn_id(tokenizer, chat))
    return found
