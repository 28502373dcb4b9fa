from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from harc.data import builtin_prompts, load_prompts
from harc.data.builtin import BuiltinKind, BuiltinSplit
from harc.errors import DataError

BUILTIN_KINDS: tuple[BuiltinKind, ...] = ("harmful", "harmless", "pseudo_harmful")
SPLITS: tuple[BuiltinSplit, ...] = ("train", "heldout", "all")
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

EXPECTED = {
    "harmful": {"train": 109, "heldout": 50, "all": 159},
    "harmless": {"train": 104, "heldout": 52, "all": 156},
    "pseudo_harmful": {"train": 48, "heldout": 24, "all": 72},
}
MINIMUM = {"harmful": 150, "harmless": 150, "pseudo_harmful": 60}


def raw_rows(kind: BuiltinKind) -> list[dict[str, str]]:
    resource = resources.files("harc.data").joinpath("builtin").joinpath(f"{kind}.jsonl")
    text = resource.read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def mean_words(kind: BuiltinKind) -> float:
    prompts = builtin_prompts(kind)
    return sum(len(p.text.split()) for p in prompts) / len(prompts)


@pytest.mark.parametrize("kind", BUILTIN_KINDS)
def test_sizes_and_documented_split_counts(kind: BuiltinKind) -> None:
    counts = {s: len(builtin_prompts(kind, s)) for s in SPLITS}
    assert counts == EXPECTED[kind]
    assert counts["all"] >= MINIMUM[kind]
    assert 0.25 <= counts["heldout"] / counts["all"] <= 0.40


@pytest.mark.parametrize("kind", BUILTIN_KINDS)
def test_records_are_well_formed(kind: BuiltinKind) -> None:
    rows = raw_rows(kind)
    assert all(set(row) == {"id", "text", "category", "split"} for row in rows)
    assert all(row["text"] == row["text"].strip() and row["text"] for row in rows)
    assert all(row["split"] in ("train", "heldout") for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)


@pytest.mark.parametrize("kind", BUILTIN_KINDS)
def test_no_duplicate_texts(kind: BuiltinKind) -> None:
    texts = [norm(p.text) for p in builtin_prompts(kind)]
    duplicates = [t for t, n in Counter(texts).items() if n > 1]
    assert not duplicates


def test_no_text_shared_between_sets() -> None:
    seen: dict[str, str] = {}
    for kind in BUILTIN_KINDS:
        for prompt in builtin_prompts(kind):
            key = norm(prompt.text)
            assert key not in seen, f"{prompt.text!r} is in both {seen.get(key)} and {kind}"
            seen[key] = kind


@pytest.mark.parametrize("kind", BUILTIN_KINDS)
def test_split_is_stratified_every_third_item_per_category(kind: BuiltinKind) -> None:
    position: Counter[str] = Counter()
    for row in raw_rows(kind):
        expected = "heldout" if position[row["category"]] % 3 == 2 else "train"
        assert row["split"] == expected, row["id"]
        position[row["category"]] += 1
    train = {p.category for p in builtin_prompts(kind, "train")}
    heldout = {p.category for p in builtin_prompts(kind, "heldout")}
    assert train == set(position)
    assert heldout == {c for c, n in position.items() if n >= 3}


def test_categories_present() -> None:
    harmful = {p.category for p in builtin_prompts("harmful")}
    assert len(harmful) >= 10
    assert {"weapons", "cybercrime", "fraud", "drugs", "violence", "harassment_hate",
            "self_harm", "privacy_stalking", "misinformation", "extremism",
            "theft"} <= harmful
    assert len({p.category for p in builtin_prompts("harmless")}) >= 10
    assert {"homonyms", "figurative_language", "safe_targets", "safe_contexts", "definitions",
            "historical_events", "privacy_public", "privacy_fictional"} == {
        p.category for p in builtin_prompts("pseudo_harmful")}
    for kind in BUILTIN_KINDS:
        assert all(p.category for p in builtin_prompts(kind))


def test_harmful_and_harmless_lengths_are_comparable() -> None:
    harmful, harmless = mean_words("harmful"), mean_words("harmless")
    assert max(harmful, harmless) / min(harmful, harmless) <= 1.5


def test_harmful_and_harmless_share_surface_verbs() -> None:
    def openers(kind: BuiltinKind) -> Counter[str]:
        return Counter(" ".join(p.text.split()[:2]) for p in builtin_prompts(kind))

    shared = set(openers("harmful")) & set(openers("harmless"))
    assert {"Explain how", "Write a", "Give step-by-step", "Describe how"} <= shared


def test_prompt_fields() -> None:
    prompt = builtin_prompts("harmful", "heldout")[0]
    assert prompt.source == "builtin:harmful"
    assert prompt.id and prompt.id.startswith("harmful-")


def test_bad_arguments() -> None:
    with pytest.raises(DataError, match="unknown built-in set"):
        builtin_prompts("evil")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="unknown split"):
        builtin_prompts("harmful", "test")  # type: ignore[arg-type]


def test_builtin_text_is_not_copied_from_public_sets() -> None:
    sources = ["advbench/harmful_behaviors.csv", "xstest/xstest_prompts.csv",
               "malicious_instruct/malicious_instruct.txt",
               "harmbench/harmbench_behaviors_text_all.csv",
               "refusal_direction/processed/alpaca.json", "coconot/coconot_eval.jsonl",
               "coconot/coconot_contrast_eval.jsonl"]
    paths = [SHARED / rel for rel in sources if (SHARED / rel).is_file()]
    if not paths:
        pytest.skip(f"real data under {SHARED} not present")
    public = {norm(p.text) for path in paths for p in load_prompts(path)}
    for kind in BUILTIN_KINDS:
        copied = [p.text for p in builtin_prompts(kind) if norm(p.text) in public]
        assert not copied, f"{kind}: {copied}"
