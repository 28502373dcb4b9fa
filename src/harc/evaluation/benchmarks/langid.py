"""Language identification for the IFEval language checks.

Uses ``langdetect`` (what IFEval's reference code uses) when it is installed. Otherwise a crude
built-in detector: the dominant Unicode script decides the language where a script has one
language here (Hangul, Thai, Gujarati, ...); Latin, Cyrillic, Arabic and Devanagari text is
decided by distinctive letters and a few dozen function words per language. It covers the ISO
639-1 codes IFEval uses, is reliable on paragraph-length text in those languages and unreliable
on short or mixed-language text. :data:`BACKEND` says which one is active.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

try:
    import langdetect as _langdetect
except ImportError:
    _langdetect = None

BACKEND = "langdetect" if _langdetect is not None else "crude"
UNDETERMINED = "und"

_SINGLE_SCRIPT = {
    "HANGUL": "ko",
    "THAI": "th",
    "BENGALI": "bn",
    "GURMUKHI": "pa",
    "GUJARATI": "gu",
    "TAMIL": "ta",
    "TELUGU": "te",
    "KANNADA": "kn",
    "MALAYALAM": "ml",
    "HEBREW": "he",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "CJK": "zh",
    "GREEK": "el",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
    "ETHIOPIC": "am",
    "SINHALA": "si",
    "KHMER": "km",
    "LAO": "lo",
    "MYANMAR": "my",
}
_WORDS: dict[str, dict[str, str]] = {
    "LATIN": {
        "en": "the and is are was of to in that it you with for this be have not on as they but",
        "de": "der die das und ist nicht ein eine zu ich sie mit den auf für es sich auch dem von",
        "pt": "o os as que não um uma é do da em para com se no na por mais você são dos das",
        "es": "el los las que y en un una es no por con para se lo como más pero del al muy",
        "it": "il di che e è un una per non con sono del della gli le si ma anche come questo nel",
        "fr": "le les et est un une que en des du pas pour dans il je vous ce qui sur avec au",
        "nl": "de het een en van is niet dat op te zijn ik je met voor ook er maar",
        "fi": "ja on ei että se hän oli ovat mutta kuin myös tai niin ole joka mitä tämä sen voi",
        "sw": "na ya wa kwa ni za katika cha kama hii hiyo yako wako sana pia lakini kuwa au huu",
        "vi": "và của là các những không một được cho với người này trong có để đã khi từ",
        "pl": "i w się nie na że to jest z do jak ale co tak są od po przez dla",
        "id": "yang dan di ini itu dengan untuk dari tidak ada akan pada juga saya",
        "tr": "ve bir bu da de için ile çok daha olarak gibi ama ben sen",
    },
    "CYRILLIC": {
        "ru": "и в не на что это с как я он по но они мы вы его из для был было",
        "bg": "и в на не да се е за от са това че като но той тя ние вие как",
        "uk": "і в не на що це з як я він та але вони ми ви його для був було",
    },
    "ARABIC": {
        "ar": "في من على إلى أن هذا التي الذي هو هي كان مع عن لا ما",
        "fa": "است و در به که این را با از برای می یک هم آن شود",
        "ur": "ہے کے میں کی اور کا سے کو یہ ہیں نہیں بھی تھا پر",
    },
    "DEVANAGARI": {
        "hi": "है हैं और के में की का से को यह लिए नहीं भी था एक पर",
        "mr": "आहे आणि आहेत या हे नाही मध्ये करून त्या होते आपण तर व",
        "ne": "छ छन् र मा हो गर्न पनि यो गरेको थियो भएको हुन्छ लागि",
    },
}
_LETTERS = {
    "vi": "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ",
    "de": "äöüß",
    "pt": "ãõç",
    "es": "ñ¿¡",
    "fi": "äö",
    "fr": "çœèêë",
    "pl": "ąęłńśźż",
    "tr": "ğış",
    "ru": "ыэё",
    "bg": "ъ",
    "uk": "іїєґ",
    "ar": "ةى",
    "fa": "پچژگک",
    "ur": "ٹڈڑںےھ",
    "mr": "ळ",
}
_WORD = re.compile(r"\w+", re.UNICODE)


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text``, or ``"und"`` when nothing can be told from it."""
    if _langdetect is not None:
        try:
            return str(_langdetect.detect(text))
        except _langdetect.LangDetectException:
            return UNDETERMINED
    return crude_detect(text)


def crude_detect(text: str) -> str:
    scripts = Counter(_script(char) for char in text if char.isalpha())
    scripts.pop(None, None)
    if not scripts:
        return UNDETERMINED
    script = scripts.most_common(1)[0][0]
    if script in ("HIRAGANA", "KATAKANA") or (
        script == "CJK" and scripts["HIRAGANA"] + scripts["KATAKANA"]
    ):
        return "ja"
    if script in _SINGLE_SCRIPT:
        return _SINGLE_SCRIPT[script]
    candidates = _WORDS.get(script)
    if candidates is None:
        return UNDETERMINED
    lowered = text.lower()
    words = Counter(_WORD.findall(lowered))
    scores = {
        code: sum(words[word] for word in set(vocab.split()))
        + 3 * sum(lowered.count(char) for char in _LETTERS.get(code, ""))
        for code, vocab in candidates.items()
    }
    best = max(scores, key=lambda code: scores[code])
    return best if scores[best] > 0 else next(iter(candidates))


def _script(char: str) -> str | None:
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    head = name.split(" ")[0]
    if head in _WORDS or head in _SINGLE_SCRIPT:
        return head
    return None
