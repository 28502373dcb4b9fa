from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harc.data import (
    Prompt,
    load_advbench,
    load_alpaca,
    load_bad_q,
    load_circuit_breakers,
    load_circuit_breakers_eval,
    load_coconot,
    load_harmbench,
    load_malicious_instruct,
    load_refusal_direction,
    load_tdc2023,
    load_xstest,
)
from harc.errors import DataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

HARMBENCH_HEADER = "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\n"
XSTEST_HEADER = "id,prompt,type,label,focus,note\n"


def shared(rel: str) -> Path:
    path = SHARED / rel
    if not path.is_file():
        pytest.skip(f"real data file {path} not present (needs ../shared/data next to the repo)")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def write_json(tmp_path: Path, name: str, data: Any) -> Path:
    return write(tmp_path, name, json.dumps(data))


def write_jsonl(tmp_path: Path, name: str, rows: list[Any]) -> Path:
    return write(tmp_path, name, "".join(json.dumps(r) + "\n" for r in rows))


# --- small synthetic files -------------------------------------------------------------------


def test_advbench(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'goal,target\nDo X,"Sure, here is X"\n  Do Y ,Sure\n')
    assert load_advbench(path) == [Prompt("Do X", "advbench"), Prompt("Do Y", "advbench")]


def test_refusal_direction(tmp_path: Path) -> None:
    path = write_json(tmp_path, "s.json", [{"instruction": "Do X", "category": None},
                                           {"instruction": "Do Y", "category": "c"}])
    prompts = load_refusal_direction(path)
    assert [(p.text, p.category) for p in prompts] == [("Do X", None), ("Do Y", "c")]


def test_harmbench_drops_and_counts_contextual(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "h.csv", HARMBENCH_HEADER
                 + "Do X,standard,illegal,,,x_id\n"
                 + 'Use this,contextual,cyber,context,"Some ""context""",ctx_id\n'
                 + "Lyrics of a song,copyright,copyright,,,song_id\n")
    with caplog.at_level(logging.WARNING, logger="harc.data"):
        prompts = load_harmbench(path)
    assert [p.id for p in prompts] == ["x_id", "song_id"]
    assert prompts[0] == Prompt("Do X", "harmbench", "illegal", "x_id")
    assert prompts.dropped == {"contextual": 1}
    assert "dropped 1 contextual" in caplog.text

    kept = load_harmbench(path, drop_contextual=False, drop_copyright=True)
    assert [p.id for p in kept] == ["x_id", "ctx_id"]
    assert kept[1].text == 'Some "context"\n\n---\n\nUse this'
    assert kept.dropped == {"copyright": 1}


def test_harmbench_extra_datasets_use_category_column(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "Behavior,Category,Tags,ContextString,BehaviorID\n"
                 "Do X,,,,adv_1\nDo Y,crime,,,adv_2\n")
    assert [(p.category, p.id) for p in load_harmbench(path)] == [(None, "adv_1"),
                                                                  ("crime", "adv_2")]


def test_xstest_label_filter(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", XSTEST_HEADER
                 + "1,How do I kill a process?,homonyms,safe,kill,\n"
                 + "2,How do I kill a person?,contrast_homonyms,unsafe,kill,\n")
    assert len(load_xstest(path)) == 2
    safe = load_xstest(path, label="safe")
    assert safe == [Prompt("How do I kill a process?", "xstest", "homonyms", "1")]
    assert safe.dropped == {"label": 1}
    assert [p.id for p in load_xstest(path, label="unsafe")] == ["2"]
    with pytest.raises(DataError, match="label filter"):
        load_xstest(path, label="maybe")  # type: ignore[arg-type]


def test_xstest_completions_final_label(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,type,prompt,completion,final_label\n"
                 "v2-1,homonyms,Kill a process?,Use kill.,1_full_compliance\n"
                 "v2-2,homonyms,Shoot a photo?,No.,2_full_refusal\n"
                 "v2-3,contrast_homonyms,Kill a person?,No.,2_full_refusal\n")
    prompts = load_xstest(path, label="safe", final_label="1_full_compliance")
    assert [p.id for p in prompts] == ["v2-1"]
    assert prompts.dropped == {"label": 1, "final_label": 1}


def test_xstest_final_label_needs_completions_file(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", XSTEST_HEADER + "1,Q?,homonyms,safe,,\n")
    with pytest.raises(DataError, match=r"missing column.*final_label"):
        load_xstest(path, final_label="1_full_compliance")


def test_xstest_everything_filtered_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", XSTEST_HEADER + "1,Q?,homonyms,safe,,\n")
    with pytest.raises(DataError, match=r"no prompts loaded \(dropped: 1 label\)"):
        load_xstest(path, label="unsafe")


def test_coconot(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "c.jsonl", [
        {"id": "a1", "category": "Incomplete", "subcategory": "underspecified",
         "prompt": "Fix it.", "response": ""}])
    assert load_coconot(path) == [Prompt("Fix it.", "coconot", "Incomplete", "a1")]
    assert load_coconot(path, category_field="subcategory")[0].category == "underspecified"


def test_alpaca_skips_and_counts_inputs(tmp_path: Path) -> None:
    path = write_json(tmp_path, "al.json", [
        {"instruction": "Name a color.", "input": "", "output": "Blue"},
        {"instruction": "Summarize this.", "input": "A long text.", "output": "Short."}])
    skipped = load_alpaca(path)
    assert [p.text for p in skipped] == ["Name a color."]
    assert skipped.dropped == {"with_input": 1}
    joined = load_alpaca(path, inputs="join")
    assert joined[1].text == "Summarize this.\n\nA long text."
    assert joined.dropped == {}


def test_malicious_instruct_ignores_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "m.txt", "How to do X?\n\n  How to do Y?  \r\n")
    assert [p.text for p in load_malicious_instruct(path)] == ["How to do X?", "How to do Y?"]


def test_tdc2023(tmp_path: Path) -> None:
    path = write_json(tmp_path, "t.json", ["Do X", "Do Y"])
    assert [p.text for p in load_tdc2023(path)] == ["Do X", "Do Y"]
    bad = write_json(tmp_path, "bad.json", ["Do X", 3])
    with pytest.raises(DataError, match=r"bad\.json, item 1"):
        load_tdc2023(bad)


def test_bad_q_json_lines_despite_json_suffix(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "catqa.json", [
        {"Category": "Malware", "Question": "Q1", "bad_q": "Q1"},
        {"Category": "Malware", "Question": "Q2", "bad_q": "Q2"}])
    prompts = load_bad_q(path)
    assert [(p.text, p.category) for p in prompts] == [("Q1", "Malware"), ("Q2", "Malware")]
    single = write_jsonl(tmp_path, "one.json", [{"bad_q": "Q", "type": "homonyms"}])
    assert load_bad_q(single)[0].category == "homonyms"


def test_circuit_breakers_train_format(tmp_path: Path) -> None:
    path = write_json(tmp_path, "cb.json", [
        {"category": "crime", "prompt": "Do X", "llama3_output": "I can't.", "output": "Sure"},
        {"category": None, "prompt": "Do Y", "refusal": "No.", "output": "Okay"},
        {"prompt": "Do Z", "output": "Fine"}])
    records = load_circuit_breakers(path)
    assert [(r.prompt, r.output, r.refusal, r.category) for r in records] == [
        ("Do X", "Sure", "I can't.", "crime"), ("Do Y", "Okay", "No.", None),
        ("Do Z", "Fine", None, None)]


def test_circuit_breakers_without_answers_is_rejected(tmp_path: Path) -> None:
    path = write_json(tmp_path, "cb.json", [{"prompt": "Do X"}])
    with pytest.raises(DataError, match="answer columns"):
        load_circuit_breakers(path)


def test_circuit_breakers_eval(tmp_path: Path) -> None:
    path = write_json(tmp_path, "hb.json", {"name": "n", "description": "d", "data": [
        {"behavior": "Do X", "default_target": "Sure", "messages": []},
        {"behavior": "Edit this", "context": "CTX", "default_target": "Sure"}]})
    prompts = load_circuit_breakers_eval(path)
    assert [p.text for p in prompts] == ["Do X"]
    assert prompts.dropped == {"contextual": 1}
    kept = load_circuit_breakers_eval(path, drop_contextual=False)
    assert kept[1].text == "CTX\n\n---\n\nEdit this"


# --- bad input ----------------------------------------------------------------------------------

PATH_LOADERS: list[Callable[[Path], list[Any]]] = [
    load_advbench, load_refusal_direction, load_harmbench, load_xstest, load_coconot,
    load_alpaca, load_malicious_instruct, load_tdc2023, load_bad_q, load_circuit_breakers,
    load_circuit_breakers_eval]


@pytest.mark.parametrize("loader", PATH_LOADERS, ids=lambda f: f.__name__)
def test_missing_file(loader: Callable[[Path], list[Any]], tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope.*file not found"):
        loader(tmp_path / "nope.csv")


@pytest.mark.parametrize("loader", PATH_LOADERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("content", ["", "  \n\n"], ids=["zero-bytes", "blank"])
def test_empty_file(loader: Callable[[Path], list[Any]], content: str, tmp_path: Path) -> None:
    path = write(tmp_path, "empty.json", content)
    with pytest.raises(DataError, match="empty"):
        loader(path)


@pytest.mark.parametrize(("loader", "name", "text"), [
    (load_advbench, "a.csv", "goal,target\n"),
    (load_refusal_direction, "r.json", "[]"),
    (load_tdc2023, "t.json", "[]"),
    (load_alpaca, "al.json", "[]"),
    (load_coconot, "c.jsonl", "\n"),
], ids=["advbench", "refusal_direction", "tdc2023", "alpaca", "coconot"])
def test_no_rows_is_an_error(loader: Callable[[Path], list[Any]], name: str, text: str,
                             tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"empty|no prompts"):
        loader(write(tmp_path, name, text))


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a regular file"):
        load_advbench(tmp_path)


def test_malformed_jsonl_row_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"prompt": "ok", "category": "c"}\n{"prompt": \n')
    with pytest.raises(DataError, match=r"c\.jsonl, line 2: malformed JSON"):
        load_coconot(path)


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "r.json", '[\n  {"instruction": "a"},\n  {"instruction": }\n]')
    with pytest.raises(DataError, match=r"r\.json, line 3: malformed JSON"):
        load_refusal_direction(path)


def test_malformed_json_lines_despite_json_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "b.json", '{"bad_q": "a"}\n{"bad_q": "b"\n')
    with pytest.raises(DataError, match=r"b\.json, line 2: malformed JSON"):
        load_bad_q(path)


def test_jsonl_row_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"prompt": "ok"}\n["a list"]\n')
    with pytest.raises(DataError, match=r"line 2: expected a JSON object"):
        load_coconot(path)


def test_json_item_that_is_not_an_object(tmp_path: Path) -> None:
    path = write_json(tmp_path, "r.json", [{"instruction": "a"}, "b"])
    with pytest.raises(DataError, match=r"r\.json, item 1: expected a JSON object"):
        load_refusal_direction(path)


def test_csv_row_with_too_many_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "goal,target\nDo X,Sure\nDo Y,Sure,extra\n")
    with pytest.raises(DataError, match=r"a\.csv, row 2 \(line 3\): 3 fields"):
        load_advbench(path)


def test_csv_empty_required_value(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'goal,target\nDo X,Sure\n"  ",Sure\n')
    with pytest.raises(DataError, match=r"row 2 \(line 3\): 'goal' is empty"):
        load_advbench(path)


def test_csv_short_row_is_missing_value(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", XSTEST_HEADER + "1,Q?\n")
    with pytest.raises(DataError, match=r"row 1 \(line 2\): 'type' is missing value"):
        load_xstest(path)


@pytest.mark.parametrize(("loader", "name", "text", "column"), [
    (load_advbench, "a.csv", "prompt,target\nDo X,Sure\n", "goal"),
    (load_harmbench, "h.csv", "Goal,Category\nDo X,c\n", "Behavior"),
    (load_xstest, "x.csv", "id,text,label\n1,Q,safe\n", "prompt"),
], ids=["advbench", "harmbench", "xstest"])
def test_csv_missing_column(loader: Callable[[Path], list[Any]], name: str, text: str,
                            column: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{name}: missing column.*{column}"):
        loader(write(tmp_path, name, text))


@pytest.mark.parametrize(("loader", "data", "column"), [
    (load_refusal_direction, [{"instruction": "a"}, {"text": "b"}], "instruction"),
    (load_alpaca, [{"input": "x", "output": "y"}], "instruction"),
    (load_bad_q, [{"prompt": "x"}], "bad_q"),
    (load_circuit_breakers, [{"output": "x"}], "prompt"),
], ids=["refusal_direction", "alpaca", "bad_q", "circuit_breakers"])
def test_json_missing_column(loader: Callable[[Path], list[Any]], data: list[Any],
                             column: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"item \d+: missing column\(s\) {column}"):
        loader(write_json(tmp_path, "f.json", data))


def test_jsonl_missing_column(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "c.jsonl", [{"prompt": "a"}, {"question": "b"}])
    with pytest.raises(DataError, match=r"c\.jsonl, line 2: missing column\(s\) prompt"):
        load_coconot(path)


def test_wrong_value_type(tmp_path: Path) -> None:
    path = write_json(tmp_path, "r.json", [{"instruction": 42}])
    with pytest.raises(DataError, match=r"item 0: 'instruction' is a int, not a string"):
        load_refusal_direction(path)


def test_wrong_top_level_json(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="expected a JSON array"):
        load_refusal_direction(write_json(tmp_path, "r.json", {"instruction": "a"}))
    with pytest.raises(DataError, match="expected a JSON array of strings"):
        load_tdc2023(write_json(tmp_path, "t.json", {"a": 1}))
    with pytest.raises(DataError, match="'data' array"):
        load_circuit_breakers_eval(write_json(tmp_path, "e.json", [{"behavior": "x"}]))


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(b"ok line\n\xff\xfe bad\n")
    with pytest.raises(DataError, match="not valid UTF-8"):
        load_malicious_instruct(path)


def test_invalid_alpaca_inputs_mode(tmp_path: Path) -> None:
    path = write_json(tmp_path, "al.json", [{"instruction": "a"}])
    with pytest.raises(DataError, match="inputs"):
        load_alpaca(path, inputs="keep")  # type: ignore[arg-type]


# --- the real files in ../shared/data ------------------------------------------------------------

REAL: list[tuple[Callable[..., list[Any]], str, dict[str, Any], int]] = [
    (load_advbench, "advbench/harmful_behaviors.csv", {}, 520),
    (load_refusal_direction, "refusal_direction/splits/harmful_train.json", {}, 260),
    (load_refusal_direction, "refusal_direction/splits/harmful_val.json", {}, 39),
    (load_refusal_direction, "refusal_direction/splits/harmless_val.json", {}, 6264),
    (load_refusal_direction, "refusal_direction/processed/malicious_instruct.json", {}, 100),
    (load_alpaca, "refusal_direction/processed/alpaca.json", {}, 31323),
    (load_alpaca, "harmfulness_refusal_separately/example_test_harmless.json", {}, 100),
    (load_harmbench, "harmbench/harmbench_behaviors_text_all.csv", {}, 300),
    (load_harmbench, "harmbench/harmbench_behaviors_text_all.csv",
     {"drop_contextual": False}, 400),
    (load_harmbench, "harmbench/harmbench_behaviors_text_all.csv", {"drop_copyright": True}, 200),
    (load_harmbench, "harmbench/extra_behavior_datasets/advbench_behaviors.csv", {}, 520),
    (load_xstest, "xstest/xstest_prompts.csv", {}, 450),
    (load_xstest, "xstest/xstest_prompts.csv", {"label": "safe"}, 250),
    (load_xstest, "xstest/xstest_prompts.csv", {"label": "unsafe"}, 200),
    (load_xstest, "xstest/xstest_v2_completions_gpt4_gpteval.csv",
     {"label": "safe", "final_label": "1_full_compliance"}, 229),
    (load_coconot, "coconot/coconot_eval.jsonl", {}, 1001),
    (load_coconot, "coconot/coconot_contrast_eval.jsonl", {"category_field": "subcategory"}, 379),
    (load_malicious_instruct, "malicious_instruct/malicious_instruct.txt", {}, 100),
    (load_tdc2023, "tdc2023/tdc2023_dev_behaviors.json", {}, 50),
    (load_tdc2023, "tdc2023/tdc2023_test_behaviors.json", {}, 50),
    (load_bad_q, "harmfulness_refusal_separately/advbench.json", {}, 520),
    (load_bad_q, "harmfulness_refusal_separately/sorry-badq.json", {}, 440),
    (load_bad_q, "harmfulness_refusal_separately/xstest-harmless.json", {}, 250),
    (load_bad_q, "harmfulness_refusal_separately/catqa_Malware Viruses.json", {}, 50),
    (load_circuit_breakers_eval, "circuit_breakers/harmbench_test.json", {}, 159),
    (load_circuit_breakers_eval, "circuit_breakers/harmbench_test_ctx.json",
     {"drop_contextual": False}, 81),
]


@pytest.mark.parametrize(("loader", "rel", "kwargs", "count"), REAL,
                         ids=[f"{r[0].__name__}-{Path(r[1]).name}-{len(r[2])}" for r in REAL])
def test_real_files(loader: Callable[..., list[Any]], rel: str, kwargs: dict[str, Any],
                    count: int) -> None:
    prompts = loader(shared(rel), **kwargs)
    assert len(prompts) == count
    assert all(isinstance(p, Prompt) and p.text and p.text == p.text.strip() for p in prompts)


def test_real_harmbench_counts_drops() -> None:
    prompts = load_harmbench(shared("harmbench/harmbench_behaviors_text_all.csv"))
    assert prompts.dropped == {"contextual": 100}
    assert {p.category for p in prompts} >= {"cybercrime_intrusion", "chemical_biological"}


def test_real_xstest_types_are_categories() -> None:
    prompts = load_xstest(shared("xstest/xstest_prompts.csv"), label="safe")
    assert len({p.category for p in prompts}) == 10
    assert not any((p.category or "").startswith("contrast") for p in prompts)


def test_real_circuit_breakers_contextual_only_file_is_an_error() -> None:
    with pytest.raises(DataError, match=r"dropped: 81 contextual"):
        load_circuit_breakers_eval(shared("circuit_breakers/harmbench_test_ctx.json"))


def test_real_circuit_breakers_train() -> None:
    records = load_circuit_breakers(shared("circuit_breakers/circuit_breakers_train.json"))
    assert records and all(r.prompt for r in records)
