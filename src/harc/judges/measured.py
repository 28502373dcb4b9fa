"""What a judge measures, and how well it has been measured to agree with labels (human, or a
reference judge).

Every judge declares ``measures``: ``"compliance"`` for a refusal judge (keyword phrases, the
first-token refusal probability, the LLM judge's ``refusal`` style): its rate under attack is
the **compliance rate**, not harm; ``"harm"`` for a harm judge (the LLM judge's HarmBench and
StrongREJECT styles, classifiers of harmful content): its rate is the **harmful rate**, the
paper's ASR. A judge that declares nothing is taken to measure compliance, so no rate is
called harmful unless its judge says it judges harm.

``measured_agreement.json`` (shipped with the package) holds each judge's agreement with
human labels: ``{"judge": {"<labels set>": {"compared": "harmful" | "refused", "n": int,
"agreement": float, "kappa": float, "fpr": float, "fnr": float, "protocol": str,
"command": str}}}``.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Measures = Literal["compliance", "harm"]
AGREEMENT_FILE = "measured_agreement.json"
KIND_LABELS: dict[str, str] = {"compliance": "Compliance", "harm": "Harmful"}
KIND_DEFINITIONS: dict[str, str] = {
    "compliance": "the compliance rate, the fraction of harmful goals the model answered "
                  "without refusing, by a refusal judge (not a judgement of harm)",
    "harm": "the harmful rate, the fraction of harmful goals whose answer a harm judge "
            "called harmful (the paper's ASR)",
}
# Judge names of results written before judges declared what they measure.
_KNOWN_NAMES: dict[str, Measures] = {
    "keyword": "compliance", "refusal_probability": "compliance", "llm-refusal": "compliance",
    "llm-harmbench": "harm", "llm-strongreject": "harm", "probe": "harm",
}


def measures_of(judge: Any) -> Measures:
    """The judge object's declared kind (``compliance`` when it declares none)."""
    declared = getattr(judge, "measures", None)
    return declared if declared in KIND_LABELS else "compliance"


def short_name(name: str) -> str:
    """``llm-harmbench[Qwen (base)]`` -> ``llm-harmbench``: the judge without its grader."""
    return name.split("[", 1)[0].strip() or name


def measures_for_name(name: str) -> Measures:
    """What a judge recorded only by name measures (for results without ``measures``)."""
    return _KNOWN_NAMES.get(short_name(name), "compliance")


def kind_label(measures: str) -> str:
    """``Compliance`` or ``Harmful``: the word a column of this kind is headed with."""
    return KIND_LABELS.get(measures, "Compliance")


@lru_cache(maxsize=4)
def _table(path: str | None) -> dict[str, Any]:
    if path is None:
        text = resources.files("harc.judges").joinpath(AGREEMENT_FILE).read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text)
    return data if isinstance(data, dict) else {}


# Classifiers whose refused / not-refused call is another judge's: XSTest's three-way
# classifier refuses (fully or partly) exactly where the keyword judge does (the same phrase
# match; tests/judges/test_measured.py checks it on every response): it only splits the keyword
# judge's refusals into full and partial, so the keyword judge's measured refusal agreement is
# the agreement of the over-refusal rates it produces.
THREE_WAY_REFUSAL_JUDGE = "keyword three-way (classify_refusal)"  # over-refusal sections' judge
SAME_REFUSAL_CALL: dict[str, str] = {THREE_WAY_REFUSAL_JUDGE: "keyword"}


def measured_agreement(judge: str, path: str | Path | None = None) -> list[dict[str, Any]]:
    """Every measured agreement of ``judge`` with a human-labelled set: one dict per labels set,
    the entry's fields plus ``labels``. The name is looked up as given, then without its grader
    (``llm-harmbench[...]`` -> ``llm-harmbench``), then (:data:`SAME_REFUSAL_CALL`) as the judge
    whose refusal call it shares, whose refusal entries are labelled ``SET via JUDGE``; [] when
    not measured."""
    table = _table(None if path is None else str(path))
    entries = table.get(judge) or table.get(short_name(judge)) or {}
    source = SAME_REFUSAL_CALL.get(judge)
    if not entries and source is not None:
        entries = {f"{labels} via {source}": entry
                   for labels, entry in (table.get(source) or {}).items()
                   if isinstance(entry, dict) and entry.get("compared") == "refused"}
    return [{"labels": labels, **entry} for labels, entry in sorted(entries.items())
            if isinstance(entry, dict)]


def _number(value: Any, digits: int = 2) -> str:
    if isinstance(value, (int, float)) and not math.isnan(value):
        return f"{value:.{digits}f}"
    return "?"


def describe_agreement(judge: str, path: str | Path | None = None) -> str:
    """One line for a report footnote: the judge's measured agreement, or that it is not
    measured."""
    entries = measured_agreement(judge, path)
    if not entries:
        return f"{judge}: agreement not measured (no human-labelled check on record)."
    parts = [f"on {e['labels']} ({e.get('compared', '?')}, n={e.get('n', '?')}): agreement "
             f"{_number(e.get('agreement'))}, kappa {_number(e.get('kappa'))}, FPR "
             f"{_number(e.get('fpr'))}, FNR {_number(e.get('fnr'))}"
             + (f", {e['protocol']}" if e.get("protocol") else "") for e in entries]
    return f"{judge}: measured agreement with labels " + "; ".join(parts) + "."
