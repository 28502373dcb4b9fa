"""``load_prompts``: one entry point for built-in sets and prompt files of any supported format."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harc.data import loaders
from harc.data.builtin import BUILTIN_KINDS, BUILTIN_SPLITS, builtin_prompts
from harc.data.circuit_breakers import load_circuit_breakers, load_circuit_breakers_eval
from harc.data.readers import check_file, read_csv, read_json, read_jsonl
from harc.data.records import Loaded, Prompt
from harc.data.tables import load_table
from harc.errors import DataError

TEXT_COLUMNS: tuple[str, ...] = ("prompt", "instruction", "text", "question", "goal",
                                 "behavior", "Behavior", "bad_q")
CATEGORY_COLUMNS: tuple[str, ...] = ("category", "Category")

SUPPORTED_FORMATS = """\
  builtin:harmful | builtin:harmless | builtin:pseudo_harmful, optionally :train or :heldout
  .txt   one prompt per line (MaliciousInstruct)
  .csv   AdvBench (goal, target); HarmBench behaviours (Behavior, ...);
         XSTest (prompt, type, label | final_label); any CSV with a text column
  .json  TDC2023 (array of strings); refusal_direction ([{instruction, category}]);
         Alpaca ([{instruction, input, output}]); Circuit Breakers ([{prompt, output,
         llama3_output | refusal}]) and its eval files ({data: [{behavior}]}); JSON Lines
         with bad_q (harmfulness_refusal_separately); any array of objects with a text column
  .jsonl CoCoNot (prompt, category, subcategory); rows with bad_q; any rows with a text column
  text columns recognised: """ + ", ".join(TEXT_COLUMNS)


def load_prompts(spec: str | os.PathLike[str]) -> list[Prompt]:
    """Prompts from ``builtin:<kind>[:<split>]`` or from a file whose format is auto-detected.

    Files are recognised by extension and then by their columns or keys (see
    ``SUPPORTED_FORMATS``); format-specific defaults apply (e.g. contextual HarmBench
    behaviours and Alpaca items with an input are dropped and counted). XSTest files load all
    prompts, safe and unsafe; call :func:`harc.data.load_xstest` to filter. Raises DataError
    listing the supported formats when the format cannot be told.
    """
    if isinstance(spec, str) and spec.startswith("builtin:"):
        return _builtin(spec)
    path = check_file(spec)
    loader = _detect(path)
    if loader is None:
        raise DataError(f"{path}: cannot tell the prompt file format. Supported:\n"
                        f"{SUPPORTED_FORMATS}")
    return loader(path)


def _builtin(spec: str) -> list[Prompt]:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[1] not in BUILTIN_KINDS:
        raise DataError(f"bad built-in spec {spec!r}; expected builtin:<kind>[:<split>] with kind "
                        f"in {', '.join(BUILTIN_KINDS)}")
    split = parts[2] if len(parts) == 3 else "all"
    if split not in BUILTIN_SPLITS:
        raise DataError(f"bad built-in spec {spec!r}: split must be one of "
                        f"{', '.join(BUILTIN_SPLITS)}")
    return builtin_prompts(parts[1], split)  # type: ignore[arg-type]


Loader = Callable[[Path], list[Prompt]]


def _detect(path: Path) -> Loader | None:
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return loaders.load_malicious_instruct
    if suffix == ".csv":
        return _detect_csv(read_csv(path)[0])
    if suffix == ".jsonl":
        return _detect_objects([row.data for row in read_jsonl(path)])
    if suffix == ".json":
        data = read_json(path)
        if isinstance(data, list) and data and all(isinstance(x, str) for x in data):
            return loaders.load_tdc2023
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            return load_circuit_breakers_eval
        if isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
            return _detect_objects(data)
        if isinstance(data, dict):
            return _detect_objects([data])
    return None


def _detect_csv(header: list[str]) -> Loader | None:
    cols = set(header)
    if "goal" in cols:
        return loaders.load_advbench
    if "Behavior" in cols:
        return loaders.load_harmbench
    if {"prompt", "type"} <= cols and cols & {"label", "final_label"}:
        return loaders.load_xstest
    return _generic(cols)


def _detect_objects(items: list[dict[str, Any]]) -> Loader | None:
    if not items:
        return None
    keys = set(items[0])
    if "bad_q" in keys:
        return loaders.load_bad_q
    if "prompt" in keys and keys & {"output", "refusal", "llama3_output"}:
        return _circuit_breakers_prompts
    if "instruction" in keys:
        return loaders.load_alpaca if keys & {"input", "output"} else \
            loaders.load_refusal_direction
    if {"prompt", "category", "subcategory"} <= keys:
        return loaders.load_coconot
    return _generic(keys)


def _circuit_breakers_prompts(path: Path) -> list[Prompt]:
    return Loaded(record.to_prompt() for record in load_circuit_breakers(path))


def _generic(columns: set[str]) -> Loader | None:
    text = next((c for c in TEXT_COLUMNS if c in columns), None)
    if text is None:
        return None
    category = next((c for c in CATEGORY_COLUMNS if c in columns), None)
    id_column = "id" if "id" in columns else None

    def load(path: Path) -> list[Prompt]:
        return load_table(path, text, category, id_column=id_column)

    return load
