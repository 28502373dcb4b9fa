"""The IFEval verifiable-instruction checkers (Zhou et al. 2023), one function per instruction id.

Each checker is ``check(response, **kwargs) -> bool`` with the keyword arguments of the
instruction as stored in IFEval's ``input_data.jsonl``. Semantics follow the reference
implementation (google-research ``instruction_following_eval/instructions.py``); the differences
are in :mod:`ifeval_text` (sentence counting, capital-word tokenization); language detection
(:mod:`langid`) is ``langdetect``, seeded as in the reference.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from harc.evaluation.benchmarks.ifeval_text import count_sentences, count_words, word_tokens
from harc.evaluation.benchmarks.langid import UNDETERMINED, detect_language
from harc.registry import Registry

Checker = Callable[..., bool]
CHECKERS: Registry[Checker] = Registry("IFEval instruction")
CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def checker(instruction_id: str) -> Callable[[Checker], Checker]:
    return CHECKERS.register(instruction_id)


def _compare(count: int, relation: str, threshold: int) -> bool:
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise ValueError(f"unknown relation {relation!r} (expected 'less than' or 'at least')")


def _language_is(text: str, code: str) -> bool:
    detected = detect_language(text)
    return detected in (UNDETERMINED, code)


@checker("keywords:existence")
def keywords_existence(response: str, *, keywords: list[str], **_: Any) -> bool:
    return all(re.search(keyword, response, flags=re.IGNORECASE) for keyword in keywords)


@checker("keywords:forbidden_words")
def keywords_forbidden(response: str, *, forbidden_words: list[str], **_: Any) -> bool:
    return not any(
        re.search(r"\b" + word + r"\b", response, flags=re.IGNORECASE) for word in forbidden_words
    )


@checker("keywords:frequency")
def keywords_frequency(
    response: str, *, keyword: str, frequency: int, relation: str, **_: Any
) -> bool:
    return _compare(
        len(re.findall(keyword.strip(), response, flags=re.IGNORECASE)), relation, frequency
    )


@checker("keywords:letter_frequency")
def letter_frequency(
    response: str, *, letter: str, let_frequency: int, let_relation: str, **_: Any
) -> bool:
    return _compare(Counter(response.lower())[letter.strip().lower()], let_relation, let_frequency)


@checker("language:response_language")
def response_language(response: str, *, language: str, **_: Any) -> bool:
    return _language_is(response, language)


@checker("length_constraints:number_sentences")
def number_sentences(response: str, *, num_sentences: int, relation: str, **_: Any) -> bool:
    return _compare(count_sentences(response), relation, num_sentences)


@checker("length_constraints:number_words")
def number_words(response: str, *, num_words: int, relation: str, **_: Any) -> bool:
    return _compare(count_words(response), relation, num_words)


@checker("length_constraints:number_paragraphs")
def number_paragraphs(response: str, *, num_paragraphs: int, **_: Any) -> bool:
    paragraphs = re.split(r"\s?\*\*\*\s?", response)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index in (0, len(paragraphs) - 1):
                count -= 1
            else:
                return False
    return count == num_paragraphs


@checker("length_constraints:nth_paragraph_first_word")
def nth_paragraph_first_word(
    response: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str, **_: Any
) -> bool:
    paragraphs = re.split(r"\n\n", response)
    count = sum(1 for paragraph in paragraphs if paragraph.strip())
    if nth_paragraph > count:
        return False
    paragraph = paragraphs[nth_paragraph - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    found = ""
    for char in word:
        if char in {".", ",", "?", "!", "'", '"'}:
            break
        found += char.lower()
    return count == num_paragraphs and found == first_word.lower()


@checker("detectable_content:number_placeholders")
def number_placeholders(response: str, *, num_placeholders: int, **_: Any) -> bool:
    return len(re.findall(r"\[.*?\]", response)) >= num_placeholders


@checker("detectable_content:postscript")
def postscript(response: str, *, postscript_marker: str, **_: Any) -> bool:
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + marker.lower() + r".*$"
    return bool(re.findall(pattern, response.lower(), flags=re.MULTILINE))


@checker("detectable_format:number_bullet_lists")
def number_bullet_lists(response: str, *, num_bullets: int, **_: Any) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == num_bullets


@checker("detectable_format:constrained_response")
def constrained_response(response: str, **_: Any) -> bool:
    value = response.strip()
    return any(option in value for option in CONSTRAINED_OPTIONS)


@checker("detectable_format:number_highlighted_sections")
def number_highlighted_sections(response: str, *, num_highlights: int, **_: Any) -> bool:
    singles = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
    doubles = [
        h
        for h in re.findall(r"\*\*[^\n\*]*\*\*", response)
        if h.removeprefix("**").removesuffix("**").strip()
    ]
    return len(singles) + len(doubles) >= num_highlights


@checker("detectable_format:multiple_sections")
def multiple_sections(response: str, *, section_spliter: str, num_sections: int, **_: Any) -> bool:
    sections = re.split(r"\s?" + section_spliter.strip() + r"\s?\d+\s?", response)
    return len(sections) - 1 >= num_sections


@checker("detectable_format:json_format")
def json_format(response: str, **_: Any) -> bool:
    value = response.strip()
    for prefix in ("```json", "```Json", "```JSON", "```"):
        value = value.removeprefix(prefix)
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


@checker("detectable_format:title")
def title(response: str, **_: Any) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response))


@checker("combination:two_responses")
def two_responses(response: str, **_: Any) -> bool:
    parts = response.split("******")
    valid = []
    for index, part in enumerate(parts):
        if part.strip():
            valid.append(part)
        elif index not in (0, len(parts) - 1):
            return False
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


@checker("combination:repeat_prompt")
def repeat_prompt(response: str, *, prompt_to_repeat: str, **_: Any) -> bool:
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


@checker("startend:end_checker")
def end_checker(response: str, *, end_phrase: str, **_: Any) -> bool:
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@checker("startend:quotation")
def quotation(response: str, **_: Any) -> bool:
    value = response.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


@checker("change_case:capital_word_frequency")
def capital_word_frequency(
    response: str, *, capital_frequency: int, capital_relation: str, **_: Any
) -> bool:
    capitals = sum(1 for word in word_tokens(response) if word.isupper())
    return _compare(capitals, capital_relation, capital_frequency)


@checker("change_case:english_capital")
def english_capital(response: str, **_: Any) -> bool:
    return response.isupper() and _language_is(response, "en")


@checker("change_case:english_lowercase")
def english_lowercase(response: str, **_: Any) -> bool:
    return response.islower() and _language_is(response, "en")


@checker("punctuation:no_comma")
def no_comma(response: str, **_: Any) -> bool:
    return "," not in response
