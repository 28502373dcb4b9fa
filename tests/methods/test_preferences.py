from __future__ import annotations

import json

import pytest

from harc.errors import DataError
from harc.methods.preferences import (
    PreferencePair,
    formatted_prompt,
    pairs_from_data,
    read_pair_file,
    sample_pairs,
    trainer_rows,
)
from harc.positions import ChatFormat
from harc.training.supply import template_refusal
from tests.methods.helpers import tiny_data
from tests.tiny import LLAMA3_TEMPLATE, tiny_tokenizer


def test_pairs_from_data_prefer_refusals_on_harmful_and_answers_on_pseudo_harmful():
    data = tiny_data()
    data.harmful[0].harmful_answer = None  # no harmful answer -> no pair for this prompt
    pairs = pairs_from_data(data)
    harmful = [p for p in pairs if p.source == "harmful"]
    pseudo = [p for p in pairs if p.source == "pseudo_harmful"]
    assert [p.prompt for p in harmful] == [ex.prompt for ex in data.harmful[1:]]
    first = data.harmful[1]
    assert harmful[0] == PreferencePair(
        first.prompt, first.refusal, first.harmful_answer, "harmful"
    )
    assert [(p.prompt, p.chosen, p.rejected) for p in pseudo] == [
        (ex.prompt, ex.answer, template_refusal(ex.prompt)) for ex in data.pseudo
    ]
    assert {p.source for p in pairs_from_data(data, include_pseudo=False)} == {"harmful"}


def test_no_pairs_at_all_is_an_error():
    with pytest.raises(DataError, match="no preference pairs"):
        pairs_from_data(tiny_data(harmful_answers=False), include_pseudo=False)


def test_sampling_is_seeded_and_never_oversamples():
    pairs = [PreferencePair(f"p{i}", "a", "b", "file") for i in range(10)]
    assert sample_pairs(pairs, 4, seed=1) == sample_pairs(pairs, 4, seed=1)
    assert sample_pairs(pairs, 4, seed=1) != sample_pairs(pairs, 4, seed=2)
    assert sorted(p.prompt for p in sample_pairs(pairs, 50, 0)) == sorted(p.prompt for p in pairs)


def test_pair_files_in_json_lines_and_json(tmp_path):
    rows = [
        {"prompt": "q1", "chosen": "good", "rejected": "bad"},
        {"prompt": "q2", "chosen": "fine", "rejected": "worse", "source": "mine"},
    ]
    lines = tmp_path / "pairs.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    listed = tmp_path / "pairs.json"
    listed.write_text(json.dumps(rows))
    expected = [
        PreferencePair("q1", "good", "bad", "file"),
        PreferencePair("q2", "fine", "worse", "mine"),
    ]
    assert read_pair_file(lines) == expected
    assert read_pair_file(listed) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prompt": "q", "chosen": "a"}\n', "line 1: 'rejected'"),
        ('{"prompt": "q", "chosen": "a", "rejected": "b"}\nnot json\n', "line 2: not valid JSON"),
        ('[{"prompt": "q", "chosen": "", "rejected": "b"}]', "item 1: 'chosen'"),
        ('[{"prompt": "q", "chosen": "same", "rejected": "same"}]', "identical"),
        ("", "no preference pairs"),
    ],
)
def test_bad_pair_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "pairs.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_pair_file(path)


def test_formatted_prompt_drops_a_bos_the_tokenizer_adds_itself():
    tokenizer = tiny_tokenizer(LLAMA3_TEMPLATE)
    chat = ChatFormat(tokenizer)
    assert formatted_prompt(chat, "hi") == chat.format("hi")  # this tokenizer adds no BOS
    assert chat.format("hi").startswith("<bos>")

    class AddsBos:
        bos_token, bos_token_id = tokenizer.bos_token, tokenizer.bos_token_id

        def __call__(self, text):
            return {"input_ids": [self.bos_token_id, *tokenizer(text)["input_ids"]]}

    chat.tokenizer = AddsBos()
    assert formatted_prompt(chat, "hi") == chat.format("hi")[len("<bos>") :]


def test_trainer_rows_use_the_chat_format():
    chat = ChatFormat(tiny_tokenizer())
    rows = trainer_rows(chat, [PreferencePair("q", "good", "bad", "file")])
    assert rows == [{"prompt": chat.format("q"), "chosen": "good", "rejected": "bad"}]
