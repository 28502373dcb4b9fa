from __future__ import annotations

import pytest

from harc.errors import ChatTemplateError, TruncationError
from harc.positions import ChatFormat, collate
from tests.tiny import CHATML_TEMPLATE, tiny_tokenizer


def test_t_inst_is_last_user_token_and_t_post_is_last_token(tiny_pair):
    _, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    text = "Explain how to bake bread"
    encoded = chat.encode(text)
    assert encoded.t_post == len(encoded.input_ids) - 1
    upto_inst = tokenizer.decode(encoded.input_ids[: encoded.t_inst + 1])
    assert upto_inst.endswith("bread")
    assert not tokenizer.decode(encoded.input_ids[: encoded.t_inst]).endswith("bread")


def test_formatting_matches_the_tokenizers_own_template(tiny_pair):
    _, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    text = "Write a poem about the sea."
    expected = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )
    assert chat.format(text) == expected


def test_template_tokens_after_inst_is_constant_across_prompts(tiny_pair):
    _, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    gaps = {
        chat.encode(text).t_post - chat.encode(text).t_inst
        for text in ["Hi there", "Write a longer request about cake", "ok"]
    }
    assert gaps == {chat.template_tokens_after_inst}
    assert chat.template_tokens_after_inst >= 1


def test_raw_template_alternative():
    tokenizer = tiny_tokenizer(template=None)
    chat = ChatFormat(tokenizer, raw_template="### Instruction:\n{instruction}\n### Response:\n")
    encoded = chat.encode("bake a cake")
    assert tokenizer.decode(encoded.input_ids[: encoded.t_inst + 1]).endswith("cake")
    assert tokenizer.decode(encoded.input_ids).endswith("### Response:\n")


def test_missing_chat_template_is_a_clear_error():
    with pytest.raises(ChatTemplateError, match="no chat template"):
        ChatFormat(tiny_tokenizer(template=None))


def test_raw_template_needs_one_field():
    with pytest.raises(ChatTemplateError, match="exactly once"):
        ChatFormat(tiny_tokenizer(), raw_template="no field here")


def test_template_that_drops_user_text_is_rejected():
    tokenizer = tiny_tokenizer(template="{% for m in messages %}<|im_start|>{% endfor %}")
    with pytest.raises(ChatTemplateError, match="verbatim"):
        ChatFormat(tokenizer)


def test_truncation_past_t_inst_raises():
    chat = ChatFormat(tiny_tokenizer(CHATML_TEMPLATE), max_length=12)
    with pytest.raises(TruncationError, match="t_inst"):
        chat.encode("Write a long poem about the sea and the sky and the fox and the dog")


def test_pair_truncation_only_cuts_the_response():
    tokenizer = tiny_tokenizer(CHATML_TEMPLATE)
    prompt_len = len(ChatFormat(tokenizer).encode("bake a cake").input_ids)
    chat = ChatFormat(tokenizer, max_length=prompt_len + 3)
    encoded = chat.encode_pair("bake a cake", "Sure, here is how to bake a cake at home.")
    assert len(encoded.input_ids) == prompt_len + 3
    assert encoded.response_start == prompt_len
    assert encoded.response_length == 3


def test_empty_prompt_and_response_rejected():
    chat = ChatFormat(tiny_tokenizer())
    with pytest.raises(ChatTemplateError):
        chat.encode("   ")
    with pytest.raises(ChatTemplateError, match="empty response"):
        chat.encode_pair("hi", "")


def test_collate_left_pads_and_shifts_positions():
    chat = ChatFormat(tiny_tokenizer())
    short, long = chat.encode("hi"), chat.encode("Write a poem about the quick brown fox")
    batch = collate([short, long], pad_token_id=0)
    pad = len(long.input_ids) - len(short.input_ids)
    assert batch.attention_mask[0, :pad].sum() == 0
    assert batch.t_inst[0] == short.t_inst + pad and batch.t_post[0] == batch.input_ids.shape[1] - 1
    assert batch.input_ids[0, batch.t_inst[0]] == short.input_ids[short.t_inst]
    assert batch.response_mask.sum() == 0
