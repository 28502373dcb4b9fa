"""Built-in prompt sets shipped with harc (original text written for this project).

Three JSON Lines files under ``harc/data/builtin/``, one object per line with ``id``, ``text``,
``category`` and ``split``:

* ``harmful.jsonl``: requests for harmful help, phrased at the level of a request (like
  AdvBench) with no operational detail, in 13 categories: weapons, cybercrime, fraud, drugs,
  violence, harassment_hate, self_harm, privacy_stalking, misinformation, extremism, theft,
  child_safety (abstract) and other_illegal.
* ``harmless.jsonl``: benign instructions of the same form and length (mean 11.4 words
  against 12.0 for harmful), sharing the surface verbs of the harmful set ("Write", "Explain
  how to", "Give step-by-step instructions for"), in 13 everyday-topic categories of 12 each.
* ``pseudo_harmful.jsonl``: safe prompts that sound unsafe, in the style of XSTest; the
  ``category`` is the XSTest-style type: homonyms, figurative_language, safe_targets,
  safe_contexts, definitions, historical_events, privacy_public, privacy_fictional (9 each).

Split: deterministic and stratified by category. Within each category, in file order, every
third item (0-based positions 2, 5, 8, ...) is ``heldout`` and the rest ``train``, so each
category contributes floor(n/3) held-out items. Held-out prompts are for validation and
evaluation only. Counts:

================  =====  ========  =====
set               train  heldout   all
================  =====  ========  =====
harmful             109        50    159
harmless            104        52    156
pseudo_harmful       48        24     72
================  =====  ========  =====

Also shipped: ``knowledge_mc/``, 32 four-choice general-knowledge questions (+3 dev shots)
in the MMLU CSV layout, written for this project: a capability check that needs no
download (``builtin_knowledge_mc()``), far too small and easy to stand in for MMLU.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from harc.data.records import Prompt
from harc.errors import DataError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

BuiltinKind = Literal["harmful", "harmless", "pseudo_harmful"]
BuiltinSplit = Literal["train", "heldout", "all"]

BUILTIN_KINDS: tuple[str, ...] = ("harmful", "harmless", "pseudo_harmful")
BUILTIN_SPLITS: tuple[str, ...] = ("train", "heldout", "all")


def builtin_path(kind: BuiltinKind) -> Traversable:
    if kind not in BUILTIN_KINDS:
        raise DataError(f"unknown built-in set {kind!r}; choose from {', '.join(BUILTIN_KINDS)}")
    return resources.files("harc.data").joinpath("builtin").joinpath(f"{kind}.jsonl")


def builtin_prompts(kind: BuiltinKind, split: BuiltinSplit = "all") -> list[Prompt]:
    """The built-in ``kind`` prompts of ``split`` (``"all"`` = train + heldout), in file order."""
    if split not in BUILTIN_SPLITS:
        raise DataError(f"unknown split {split!r}; choose from {', '.join(BUILTIN_SPLITS)}")
    resource = builtin_path(kind)
    name = f"harc/data/builtin/{kind}.jsonl"
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataError(f"{name}: built-in set missing from the installed package") from exc
    prompts: list[Prompt] = []
    for i, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            row_split = item["split"]
            prompt = Prompt(item["text"], f"builtin:{kind}", item["category"], item["id"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{name}, line {i}: malformed built-in record ({exc})") from exc
        if split == "all" or row_split == split:
            prompts.append(prompt)
    if not prompts:
        raise DataError(f"{name}: no prompts for split {split!r}")
    return prompts


def builtin_knowledge_mc() -> Path:
    """The directory of the built-in multiple-choice set (MMLU layout: dev/, test/)."""
    return Path(str(resources.files("harc.data").joinpath("builtin").joinpath("knowledge_mc")))
