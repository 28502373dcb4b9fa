"""Text measures used by the IFEval checkers (words, sentences, capital words).

IFEval's reference code counts words with NLTK's ``RegexpTokenizer(r"\\w+")`` (reproduced
exactly), sentences with NLTK's Punkt model and capital words with ``nltk.word_tokenize``. NLTK
is not a dependency here, so sentences are counted with the rule-based splitter from the same
reference code (``split_into_sentences``) and capital words with a regex word tokenizer that, like
``word_tokenize``, keeps hyphenated words whole. Counts can differ from Punkt on abbreviations.
"""

from __future__ import annotations

import re

_ALPHABETS = "([A-Za-z])"
_PREFIXES = "(Mr|St|Mrs|Ms|Dr)[.]"
_SUFFIXES = "(Inc|Ltd|Jr|Sr|Co)"
_STARTERS = (
    r"(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s"
    r"|That\s|This\s|Wherever)"
)
_ACRONYMS = "([A-Z][.][A-Z][.](?:[A-Z][.])?)"
_WEBSITES = "[.](com|net|org|io|gov|edu|me)"
_DIGITS = "([0-9])"
_MULTIPLE_DOTS = r"\.{2,}"
_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def word_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def split_into_sentences(text: str) -> list[str]:
    """Rule-based sentence splitter (IFEval's ``instructions_util.split_into_sentences``)."""
    text = " " + text + "  "
    text = text.replace("\n", " ")
    text = re.sub(_PREFIXES, "\\1<prd>", text)
    text = re.sub(_WEBSITES, "<prd>\\1", text)
    text = re.sub(_DIGITS + "[.]" + _DIGITS, "\\1<prd>\\2", text)
    text = re.sub(_MULTIPLE_DOTS, lambda match: "<prd>" * len(match.group(0)) + "<stop>", text)
    text = text.replace("Ph.D.", "Ph<prd>D<prd>")
    text = re.sub(r"\s" + _ALPHABETS + "[.] ", " \\1<prd> ", text)
    text = re.sub(_ACRONYMS + " " + _STARTERS, "\\1<stop> \\2", text)
    text = re.sub(
        _ALPHABETS + "[.]" + _ALPHABETS + "[.]" + _ALPHABETS + "[.]",
        "\\1<prd>\\2<prd>\\3<prd>",
        text,
    )
    text = re.sub(_ALPHABETS + "[.]" + _ALPHABETS + "[.]", "\\1<prd>\\2<prd>", text)
    text = re.sub(" " + _SUFFIXES + "[.] " + _STARTERS, " \\1<stop> \\2", text)
    text = re.sub(" " + _SUFFIXES + "[.]", " \\1<prd>", text)
    text = re.sub(" " + _ALPHABETS + "[.]", " \\1<prd>", text)
    text = text.replace(".”", "”.").replace('."', '".').replace('!"', '"!').replace('?"', '"?')
    text = text.replace(".", ".<stop>").replace("?", "?<stop>").replace("!", "!<stop>")
    text = text.replace("<prd>", ".")
    sentences = [sentence.strip() for sentence in text.split("<stop>")]
    return [sentence for sentence in sentences if sentence]


def count_sentences(text: str) -> int:
    return len(split_into_sentences(text))
