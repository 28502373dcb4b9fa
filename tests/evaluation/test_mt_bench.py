from __future__ import annotations

import pytest

from harc.errors import DataError, HarcError
from harc.evaluation.benchmarks import mt_bench
from tests.evaluation.fakes import MULTI, SETTINGS, FakeGenerator, write_jsonl, write_mt_bench
from tests.tiny import tiny_tokenizer


@pytest.mark.parametrize(
    ("judgment", "rating"),
    [
        ("Good. Rating: [[8]]", 8.0),
        ("[[7.5]] then [[2]]", 7.5),
        ("Rating: [6]", 6.0),
        ("no rating", None),
        ("Rating: [[11]]", None),
        ("[[0]]", None),
    ],
)
def test_parse_rating(judgment, rating):
    assert mt_bench.parse_rating(judgment) == rating


def test_run_without_a_judge_raises(tmp_path):
    with pytest.raises(HarcError, match="judge model"):
        mt_bench.run(FakeGenerator(), path=write_mt_bench(tmp_path))


def test_judge_requests_use_references_for_math(tmp_path):
    root = write_mt_bench(tmp_path)
    questions = mt_bench.load_mt_bench(root)
    prompts = mt_bench.load_judge_prompts(root)
    writing, math = questions
    assert math.reference == ("4", "6") and writing.reference is None
    first, second = mt_bench.judge_requests(math, ("four", "six"), prompts)
    assert first == "M1 Q:What is 2+2? R:4 A:four"
    assert second == MULTI + "M2 What is 2+2?|4|And 3+3?|6|four|six"
    plain, _ = mt_bench.judge_requests(math, ("four", "six"), prompts, use_reference=False)
    assert plain.startswith("T1 ")
    no_ref = mt_bench.MTBenchQuestion(1, "coding", ("a", "b"), None)
    with pytest.raises(DataError, match="no reference answer"):
        mt_bench.judge_requests(no_ref, ("x", "y"), prompts)


def test_run_grades_both_turns(tmp_path):
    root = write_mt_bench(tmp_path)
    tokenizer = tiny_tokenizer()
    generator = FakeGenerator(
        lambda text: "second" if "<|im_start|>assistant" in text else "first", tokenizer=tokenizer
    )

    def judge_reply(text):
        if text.startswith(MULTI):
            return "meh" if "M2" in text else "Rating: [[4]]"
        return "Rating: [[8]]"

    judge = FakeGenerator(judge_reply)
    result = mt_bench.run(
        generator, judge=judge, path=root, settings=SETTINGS, judge_settings=SETTINGS
    )
    assert result.metrics["turn_1"].value == 8.0 and result.metrics["turn_1"].n == 2
    assert result.metrics["turn_2"].value == 4.0 and result.metrics["turn_2"].n == 1
    assert result.score == pytest.approx(20 / 3) and result.config["invalid_ratings"] == 1
    assert [s.output for s in result.samples] == ["first", "second", "first", "second"]
    turn_two = generator.formatted_calls[0][0]
    assert (
        turn_two.index("Write a poem.")
        < turn_two.index("first")
        < turn_two.index("Make it shorter.")
    )
    assert result.breakdown["category"]["writing"].value == 6.0


def test_turn_two_needs_a_tokenizer(tmp_path):
    with pytest.raises(HarcError, match="tokenizer"):
        mt_bench.run(
            FakeGenerator(), judge=FakeGenerator(), path=write_mt_bench(tmp_path), settings=SETTINGS
        )


def test_loader_rejects_single_turn_questions(tmp_path):
    root = tmp_path / "mt"
    write_jsonl(root / "question.jsonl", [{"question_id": 1, "category": "x", "turns": ["only"]}])
    with pytest.raises(DataError, match=r"question\.jsonl, line 1: expected two"):
        mt_bench.load_mt_bench(root)
