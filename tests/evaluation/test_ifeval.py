from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harc.errors import DataError
from harc.evaluation.benchmarks import ifeval, langid
from harc.evaluation.benchmarks.ifeval_checks import CHECKERS
from harc.evaluation.benchmarks.ifeval_text import count_sentences, count_words
from tests.evaluation.fakes import SETTINGS, FakeGenerator, write_jsonl

SHARED = Path(os.environ.get("HARC_DATA", "/work/shared/data")) / "ifeval" / "input_data.jsonl"
ENGLISH = "This is a plain answer about the weather and the sea, written for you in English."

CASES = [
    (
        "keywords:existence",
        {"keywords": ["ocean", "tide"]},
        "The OCEAN and its tide.",
        "Only ocean.",
    ),
    (
        "keywords:forbidden_words",
        {"forbidden_words": ["cat"]},
        "Dogs and category theory.",
        "A Cat sat.",
    ),
    (
        "keywords:frequency",
        {"keyword": "sun", "frequency": 2, "relation": "at least"},
        "Sun, sun and more sun.",
        "One sun only.",
    ),
    (
        "keywords:frequency",
        {"keyword": "sun", "frequency": 2, "relation": "less than"},
        "One sun only.",
        "Sun and sun.",
    ),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 3, "let_relation": "at least"},
        "Zaza buzz",
        "zero",
    ),
    (
        "language:response_language",
        {"language": "de"},
        "Ich habe heute keine Zeit, aber wir sehen uns morgen und sprechen über das Projekt.",
        ENGLISH,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "less than"},
        "One. Two.",
        "One. Two. Three!",
    ),
    (
        "length_constraints:number_words",
        {"num_words": 5, "relation": "at least"},
        "one two three four five",
        "one two three four",
    ),
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "First part.\n***\nSecond part.",
        "First.\n***\n***\nSecond.",
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "weekend"},
        'Intro here.\n\n"Weekend, finally."',
        "Intro here.\n\nThe weekend.",
    ),
    (
        "detectable_content:number_placeholders",
        {"num_placeholders": 2},
        "Dear [name], at [address].",
        "Dear [name].",
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "Body text.\n\nP.S. See you soon.",
        "Body text, no postscript.",
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.P.S"},
        "Body.\nP.P.S one more thing",
        "Body.\nP.S. only",
    ),
    (
        "detectable_format:number_bullet_lists",
        {"num_bullets": 2},
        "Points:\n* one\n- two",
        "Points:\n* one\n* two\n* three",
    ),
    ("detectable_format:constrained_response", {}, "My answer is maybe.", "Perhaps."),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "*first* and **second**",
        "*first* and * *",
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "SECTION 1\nfoo\nSECTION 2\nbar",
        "SECTION 1\nfoo",
    ),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', "{a: 1}"),
    ("detectable_format:title", {}, "<<My Poem>>\nRoses.", "<< >> no title"),
    ("combination:two_responses", {}, "Answer one.\n******\nAnswer two.", "Same.\n******\nSame."),
    (
        "combination:repeat_prompt",
        {"prompt_to_repeat": "Write a poem."},
        "write a poem. Here it is.",
        "Here is a poem.",
    ),
    (
        "startend:end_checker",
        {"end_phrase": "Any other questions?"},
        'Done. "Any other questions?"',
        "Any other questions? Bye.",
    ),
    ("startend:quotation", {}, '  "wrapped"  ', '"half'),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "at least"},
        "VERY GOOD well-known",
        "Very GOOD",
    ),
    ("change_case:english_capital", {}, ENGLISH.upper(), ENGLISH),
    ("change_case:english_lowercase", {}, ENGLISH.lower(), ENGLISH),
    ("punctuation:no_comma", {}, "No commas here.", "One, two."),
]


@pytest.mark.parametrize(("instruction", "kwargs", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_checker_accepts_and_rejects(instruction, kwargs, good, bad):
    assert ifeval.check_instruction(instruction, kwargs, good)
    assert not ifeval.check_instruction(instruction, kwargs, bad)


def test_every_checker_has_a_case_and_empty_responses_follow_nothing():
    assert {case[0] for case in CASES} == set(CHECKERS)
    assert not ifeval.check_instruction("punctuation:no_comma", {}, "   ")


@pytest.mark.skipif(not SHARED.is_file(), reason="shared IFEval data not available")
def test_every_instruction_type_in_the_data_has_a_checker():
    items = ifeval.load_ifeval(SHARED)
    assert len(items) == 541
    assert {i for item in items for i in item.instruction_ids} <= set(CHECKERS)


def test_text_measures():
    assert count_words("Hello, world! It's 2 o'clock.") == 7
    assert count_sentences("Dr. Smith went home. He slept! Did he? Yes...") == 4


def test_language_detector_on_scripts_and_function_words():
    detect = langid.detect_language
    assert detect("이것은 한국어 문장입니다") == "ko"
    assert detect("यह एक हिंदी वाक्य है और यह बहुत सरल है") == "hi"
    assert detect("Это простое предложение, и оно на русском языке.") == "ru"
    assert detect("Đây là một câu tiếng Việt và nó rất đơn giản.") == "vi"
    assert detect("Hii ni sentensi ya Kiswahili na ni rahisi sana kwa wote.") == "sw"
    assert detect(ENGLISH.upper()) == "en"
    assert detect("12345 !!!") == langid.UNDETERMINED


def test_loose_variants_drop_edge_lines_and_asterisks():
    response = "Sure! Here it is:\n*body text*\nHope that helps"
    variants = ifeval.loose_variants(response)
    assert len(variants) == 8 and "*body text*" in variants and "body text" in variants
    item = ifeval.IFEvalItem(1, "p", ("startend:quotation",), ({},))
    score = ifeval.score_response(item, 'Here you go:\n"quoted answer"')
    assert score.strict == (False,) and score.loose == (True,)


def _data(tmp_path):
    return write_jsonl(
        tmp_path / "ifeval" / "input_data.jsonl",
        [
            {
                "key": 1,
                "prompt": "Write without commas.",
                "instruction_id_list": ["punctuation:no_comma"],
                "kwargs": [{}],
            },
            {
                "key": 2,
                "prompt": "Quote it and say yes.",
                "instruction_id_list": [
                    "startend:quotation",
                    "detectable_format:constrained_response",
                ],
                "kwargs": [{}, {}],
            },
            {
                "key": 3,
                "prompt": "Do a new thing.",
                "instruction_id_list": ["made_up:thing"],
                "kwargs": [{"x": None}],
            },
        ],
    )


def test_run_reports_prompt_and_instruction_level_accuracy(tmp_path):
    replies = {"commas": "No commas at all", "Quote": 'Sure:\n"My answer is yes."', "new": "ok"}
    generator = FakeGenerator(lambda p: next(v for k, v in replies.items() if k in p))
    result = ifeval.run(generator, data_root=_data(tmp_path).parents[1], settings=SETTINGS)
    metrics = result.metrics
    assert metrics["prompt_level_strict"].value == pytest.approx(1 / 3)
    assert metrics["prompt_level_loose"].value == pytest.approx(2 / 3)
    assert metrics["instruction_level_strict"].value == pytest.approx(2 / 4)
    assert metrics["instruction_level_loose"].value == pytest.approx(3 / 4)
    assert result.config["unsupported_instructions"] == {"made_up:thing": 1}
    assert result.breakdown["instruction_loose"]["startend:quotation"].value == 1.0
    json.dumps(result.to_dict())


def test_loader_rejects_mismatched_kwargs(tmp_path):
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [{"key": 1, "prompt": "p", "instruction_id_list": ["a", "b"], "kwargs": [{}]}],
    )
    with pytest.raises(DataError, match=r"bad\.jsonl, line 1"):
        ifeval.load_ifeval(path)
