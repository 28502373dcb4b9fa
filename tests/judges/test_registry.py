from __future__ import annotations

import pytest

from harc.errors import HarcError
from harc.judges import (
    Judge,
    KeywordJudge,
    UnknownJudgeError,
    available_judges,
    get_judge,
    register_judge,
)


def test_builtin_judges_are_registered():
    assert {"keyword", "llm", "refusal_probability"} <= set(available_judges())
    judge = get_judge("keyword")
    assert isinstance(judge, KeywordJudge)
    assert isinstance(judge, Judge)
    assert judge.name == "keyword"


def test_unknown_judge_lists_available():
    with pytest.raises(UnknownJudgeError, match=r"unknown judge 'nope'.*keyword.*llm"):
        get_judge("nope")
    assert issubclass(UnknownJudgeError, HarcError)


def test_duplicate_name_is_rejected():
    with pytest.raises(HarcError, match="already registered"):

        @register_judge("keyword")
        class Other:
            name = "keyword"
