from __future__ import annotations

import json
from pathlib import Path

import pytest

from harc.data import Pair, Prompt, load_pairs, load_table
from harc.errors import DataError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_table_csv_with_column_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "my_set.csv", "q,topic,key\nWhat is X?,science,k1\nWhy Y?,,k2\n")
    prompts = load_table(path, text_column="q", category_column="topic", id_column="key")
    assert prompts == [Prompt("What is X?", "my_set", "science", "k1"),
                       Prompt("Why Y?", "my_set", None, "k2")]


def test_load_table_jsonl_and_json(tmp_path: Path) -> None:
    rows = [{"prompt": "A", "category": 1}, {"prompt": "B"}]
    jsonl = write(tmp_path, "t.jsonl", "\n".join(json.dumps(r) for r in rows))
    array = write(tmp_path, "t.json", json.dumps(rows))
    for path in (jsonl, array):
        prompts = load_table(path, category_column="category", source="mine")
        assert prompts == [Prompt("A", "mine", "1"), Prompt("B", "mine")]


def test_load_table_pairs_with_fixed_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "h.jsonl", json.dumps({"instruction": "Hi", "output": "Hello!"}))
    pairs = load_table(path, "instruction", response_column="output", kind="helpful")
    assert pairs == [Pair("Hi", "Hello!", "h", "helpful")]


def test_load_table_pair_kind_arguments(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "prompt,response,kind\nQ,A,refusal\n")
    with pytest.raises(DataError, match="exactly one of kind"):
        load_table(path, response_column="response")
    with pytest.raises(DataError, match="exactly one of kind"):
        load_table(path, response_column="response", kind="helpful", kind_column="kind")
    with pytest.raises(DataError, match="pair kind 'nice'"):
        load_table(path, response_column="response", kind="nice")
    with pytest.raises(DataError, match="only apply with a response_column"):
        load_table(path, kind="helpful")


def test_load_table_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "question,answer\nQ,A\n")
    with pytest.raises(DataError, match=r"t\.csv, row 1 \(line 2\): missing column\(s\) prompt"):
        load_table(path)


def test_load_table_unsupported_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "t.parquet", "x")
    with pytest.raises(DataError, match=r"unsupported table format '\.parquet'"):
        load_table(path)


def test_load_table_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no rows loaded"):
        load_table(write(tmp_path, "t.csv", "prompt\n"))


def test_load_pairs_jsonl_and_csv(tmp_path: Path) -> None:
    rows = [{"prompt": "How to X?", "response": "I can't help.", "kind": "refusal"},
            {"prompt": "How to X?", "response": "Step 1", "kind": "harmful"},
            {"prompt": "Bake bread?", "response": "Mix flour", "kind": "helpful"},
            {"prompt": "Kill a process?", "response": "Use kill", "kind": "compliant"}]
    jsonl = write(tmp_path, "pairs.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    csv = write(tmp_path, "pairs.csv", "prompt,response,kind\n" + "".join(
        f'"{r["prompt"]}","{r["response"]}",{r["kind"]}\n' for r in rows))
    for path in (jsonl, csv):
        pairs = load_pairs(path)
        assert [p.kind for p in pairs] == ["refusal", "harmful", "helpful", "compliant"]
        assert pairs[0] == Pair("How to X?", "I can't help.", "pairs", "refusal")


def test_load_pairs_bad_kind_names_row(tmp_path: Path) -> None:
    path = write(tmp_path, "pairs.csv", "prompt,response,kind\nQ,A,refusal\nQ,A,polite\n")
    with pytest.raises(DataError, match=r"pairs\.csv, row 2 \(line 3\): kind 'polite'"):
        load_pairs(path)


def test_load_pairs_missing_kind_column(tmp_path: Path) -> None:
    path = write(tmp_path, "pairs.jsonl", json.dumps({"prompt": "Q", "response": "A"}))
    with pytest.raises(DataError, match=r"line 1: missing column\(s\) kind"):
        load_pairs(path)


def test_load_pairs_empty_response(tmp_path: Path) -> None:
    path = write(tmp_path, "pairs.jsonl",
                 json.dumps({"prompt": "Q", "response": " ", "kind": "helpful"}))
    with pytest.raises(DataError, match=r"line 1: 'response' is empty"):
        load_pairs(path)


def test_load_pairs_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_pairs(tmp_path / "none.jsonl")
    with pytest.raises(DataError, match="file is empty"):
        load_pairs(write(tmp_path, "e.jsonl", ""))
    with pytest.raises(DataError, match=r"line 1: malformed JSON"):
        load_pairs(write(tmp_path, "m.jsonl", "{oops\n"))
