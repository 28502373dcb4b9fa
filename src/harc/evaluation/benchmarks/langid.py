"""Language identification for the IFEval language checks, with ``langdetect``.

``langdetect`` is what IFEval's reference code uses; as there, ``DetectorFactory.seed = 0``
makes its (randomised) detection deterministic. It is reliable on paragraph-length text and
unreliable on short or mixed-language text.
"""

from __future__ import annotations

import langdetect

langdetect.DetectorFactory.seed = 0

BACKEND = "langdetect"
UNDETERMINED = "und"


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text``, or ``"und"`` when nothing can be told from it."""
    try:
        return str(langdetect.detect(text))
    except langdetect.LangDetectException:
        return UNDETERMINED
