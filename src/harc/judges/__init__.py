"""Judges of responses (refusal, harmfulness) behind one registry: ``get_judge(name, **kw)``."""

from __future__ import annotations

from harc.judges.base import (
    Judge,
    UnknownJudgeError,
    Verdict,
    available_judges,
    get_judge,
    register_judge,
)
from harc.judges.keyword import (
    REFUSAL_PHRASES,
    REFUSAL_PREFIXES,
    KeywordJudge,
    classify_refusal,
    refusal_match,
)
from harc.judges.llm import LLMJudge
from harc.judges.llm_prompts import parse_rubric, parse_yes_no
from harc.judges.refusal_probability import (
    REFUSAL_OPENINGS,
    RefusalProbabilityJudge,
    refusal_token_ids,
)

__all__ = [
    "REFUSAL_OPENINGS",
    "REFUSAL_PHRASES",
    "REFUSAL_PREFIXES",
    "Judge",
    "KeywordJudge",
    "LLMJudge",
    "RefusalProbabilityJudge",
    "UnknownJudgeError",
    "Verdict",
    "available_judges",
    "classify_refusal",
    "get_judge",
    "parse_rubric",
    "parse_yes_no",
    "refusal_match",
    "refusal_token_ids",
    "register_judge",
]
