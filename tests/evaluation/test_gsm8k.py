from __future__ import annotations

import pytest

from harc.errors import DataError
from harc.evaluation.benchmarks import gsm8k
from tests.evaluation.fakes import SETTINGS, FakeGenerator, write_jsonl


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("16 - 3 - 4 = 9 eggs, 9 * 2 = 18. The answer is 18", "18"),
        ("She earns $1,234.50 in total. The answer is $1,234.50.", "1234.5"),
        ("The answer is -7.", "-7"),
        ("So the result is 3.0", "3"),
        ("Steps... #### 72", "72"),
        ("#### 1,000\nThe answer is wrong text 5", "1000"),
        ("The answer is 42. Check: 42 * 2 = 84", "42"),
        ("We get 3-5 = -2 overall", "-2"),
        ("Values 1,2,3", "3"),
        ("I cannot solve this.", None),
        ("The total is −12", "-12"),
    ],
)
def test_extract_final_number(output, expected):
    assert gsm8k.extract_final_number(output) == expected


def test_is_correct_compares_decimals():
    assert gsm8k.is_correct("The answer is 18.00", "18")
    assert not gsm8k.is_correct("The answer is 17", "18")
    assert not gsm8k.is_correct("no number", "18")


def _data(tmp_path):
    return write_jsonl(
        tmp_path / "gsm8k" / "test.jsonl",
        [
            {"question": "What is 2+2?", "answer": "2+2=4\n#### 4"},
            {"question": "What is 10*100?", "answer": "#### 1,000"},
            {"question": "What is 3-5?", "answer": "#### -2"},
        ],
    )


def test_loader_parses_targets_and_rejects_missing_marker(tmp_path):
    items = gsm8k.load_gsm8k(data_root=_data(tmp_path).parents[1])
    assert [i.target for i in items] == ["4", "1000", "-2"]
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"question": "q", "answer": "4"}])
    with pytest.raises(DataError, match=r"bad\.jsonl, line 1: .*####"):
        gsm8k.load_gsm8k(bad)
    missing = write_jsonl(tmp_path / "missing.jsonl", [{"question": "q"}])
    with pytest.raises(DataError, match=r"line 1: missing field 'answer'"):
        gsm8k.load_gsm8k(missing)


def test_run_scores_exact_match(tmp_path):
    path = _data(tmp_path)
    answers = {
        "2+2": "2 plus 2 is 4. The answer is 4",
        "10*100": "The answer is 1,000.",
        "3-5": "The answer is 2",
    }
    generator = FakeGenerator(lambda p: next(v for k, v in answers.items() if k in p))
    result = gsm8k.run(generator, path=path, settings=SETTINGS)
    assert [s.score for s in result.samples] == [1.0, 1.0, 0.0]
    assert result.score == pytest.approx(2 / 3) and result.n == 3
    prompts, settings = generator.calls[0]
    assert settings is SETTINGS
    assert all("The answer is N" in p for p in prompts)
    assert result.samples[2].meta == {"index": 2, "target": "-2", "predicted": "2"}
