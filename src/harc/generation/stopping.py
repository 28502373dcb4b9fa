"""Which token ids end a generation: eos, plus the chat template's end-of-turn token."""

from __future__ import annotations

from typing import Any

from harc.positions import ChatFormat

_TURN_MARKER = "HARC_TURN_MARKER_5c1e"


def is_special_token(tokenizer: Any, token_id: int) -> bool:
    if token_id in set(getattr(tokenizer, "all_special_ids", ())):
        return True
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    token = added.get(token_id)
    return bool(token is not None and getattr(token, "special", False))


def end_of_turn_id(tokenizer: Any, chat: ChatFormat | str) -> int | None:
    """The special token that closes the user's turn in the template (the first token of the
    suffix after the user text, e.g. ``<|im_end|>``, ``<|eot_id|>``, ``<end_of_turn>``).

    ``chat`` is a :class:`ChatFormat` (its suffix is used) or a Jinja chat-template string (the
    suffix is found by rendering one user turn through it with the generation prompt).

    The assistant closes its own turn with the same token, so generation stops there. None when
    the suffix does not start with a special token (raw templates such as ``### Response:``),
    or when a Jinja template cannot render one user turn.
    """
    suffix = _rendered_suffix(tokenizer, chat) if isinstance(chat, str) else chat.suffix
    if suffix is None:
        return None
    ids = tokenizer(suffix, add_special_tokens=False)["input_ids"]
    if not ids or not is_special_token(tokenizer, int(ids[0])):
        return None
    return int(ids[0])


def _rendered_suffix(tokenizer: Any, chat_template: str) -> str | None:
    """The text after the user's words when ``chat_template`` renders one user turn."""
    try:
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": _TURN_MARKER}],
            chat_template=chat_template,
            tokenize=False,
            add_generation_prompt=True,
        )
    except Exception:  # a template that cannot render one user turn has no marker to offer
        return None
    if not isinstance(rendered, str) or rendered.count(_TURN_MARKER) != 1:
        return None
    return rendered.split(_TURN_MARKER)[1]


def stop_token_ids(tokenizer: Any, chat: ChatFormat | str | None, model: Any = None) -> list[int]:
    """eos of the tokenizer and of the model's generation config, and the end-of-turn token
    of ``chat`` (a :class:`ChatFormat` or a Jinja chat-template string; none when None)."""
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
