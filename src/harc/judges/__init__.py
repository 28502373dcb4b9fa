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
from harc.judges.classifier_chat import (
    ChatClassifierJudge,
    parse_categories,
    verdict_categories,
)
from harc.judges.classifier_common import count_undecided, is_undecided
from harc.judges.classifier_template import TemplateClassifierJudge
from harc.judges.keyword import (
    REFUSAL_PHRASES,
    REFUSAL_PREFIXES,
    KeywordJudge,
    classify_refusal,
    refusal_match,
)
from harc.judges.llm import LLMJudge
from harc.judges.llm_prompts import parse_rubric, parse_yes_no
from harc.judges.probe import Probe, ProbeError, ProbeJudge
from harc.judges.refusal_probability import (
    REFUSAL_OPENINGS,
    RefusalProbabilityJudge,
    refusal_token_ids,
)
from harc.judges.rubric import RubricJudge
from harc.judges.templates import PromptTemplate, TemplateError, load_prompt_template

__all__ = [
    "REFUSAL_OPENINGS",
    "REFUSAL_PHRASES",
    "REFUSAL_PREFIXES",
    "ChatClassifierJudge",
    "Judge",
    "KeywordJudge",
    "LLMJudge",
    "Probe",
    "ProbeError",
    "ProbeJudge",
    "PromptTemplate",
    "RefusalProbabilityJudge",
    "RubricJudge",
    "TemplateClassifierJudge",
    "TemplateError",
    "UnknownJudgeError",
    "Verdict",
    "available_judges",
    "classify_refusal",
    "count_undecided",
    "get_judge",
    "is_undecided",
    "load_prompt_template",
    "parse_categories",
    "parse_rubric",
    "parse_yes_no",
    "refusal_match",
    "refusal_token_ids",
    "register_judge",
    "verdict_categories",
]
