"""Prompt and pair data: typed records, loaders for published sets, built-in prompt sets."""

from __future__ import annotations

from harc.data.builtin import (
    BUILTIN_KINDS,
    BUILTIN_SPLITS,
    builtin_knowledge_mc,
    builtin_prompts,
)
from harc.data.circuit_breakers import load_circuit_breakers, load_circuit_breakers_eval
from harc.data.detect import SUPPORTED_FORMATS, load_prompts
from harc.data.loaders import (
    load_advbench,
    load_alpaca,
    load_bad_q,
    load_coconot,
    load_harmbench,
    load_malicious_instruct,
    load_refusal_direction,
    load_tdc2023,
    load_xstest,
)
from harc.data.records import PAIR_KINDS, CircuitBreakersRecord, Loaded, Pair, Prompt
from harc.data.tables import load_pairs, load_table

__all__ = [
    "BUILTIN_KINDS",
    "BUILTIN_SPLITS",
    "PAIR_KINDS",
    "SUPPORTED_FORMATS",
    "CircuitBreakersRecord",
    "Loaded",
    "Pair",
    "Prompt",
    "builtin_knowledge_mc",
    "builtin_prompts",
    "load_advbench",
    "load_alpaca",
    "load_bad_q",
    "load_circuit_breakers",
    "load_circuit_breakers_eval",
    "load_coconot",
    "load_harmbench",
    "load_malicious_instruct",
    "load_pairs",
    "load_prompts",
    "load_refusal_direction",
    "load_table",
    "load_tdc2023",
    "load_xstest",
]
