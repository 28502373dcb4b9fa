from __future__ import annotations

import json
from pathlib import Path

import pytest

from harc.data import builtin_prompts, load_prompts
from harc.errors import DataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.mark.parametrize(("name", "text", "source", "texts"), [
    ("adv.csv", "goal,target\nDo X,Sure\n", "advbench", ["Do X"]),
    ("hb.csv", "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\n"
     "Do X,standard,illegal,,,x\nUse it,contextual,illegal,,ctx,y\n", "harmbench", ["Do X"]),
    ("xs.csv", "id,prompt,type,label,focus,note\n1,Kill a process?,homonyms,safe,,\n",
     "xstest", ["Kill a process?"]),
    ("mine.csv", "instruction,category\nDo X,c\n", "mine", ["Do X"]),
    ("mi.txt", "Do X\nDo Y\n", "malicious_instruct", ["Do X", "Do Y"]),
    ("tdc.json", json.dumps(["Do X"]), "tdc2023", ["Do X"]),
    ("split.json", json.dumps([{"instruction": "Do X", "category": None}]),
     "refusal_direction", ["Do X"]),
    ("alp.json", json.dumps([{"instruction": "Do X", "input": "", "output": "ok"},
                             {"instruction": "Do Y", "input": "in", "output": "ok"}]),
     "alpaca", ["Do X"]),
    ("cb.json", json.dumps([{"prompt": "Do X", "output": "Sure", "llama3_output": "No"}]),
     "circuit_breakers", ["Do X"]),
    ("hbe.json", json.dumps({"name": "n", "data": [{"behavior": "Do X"}]}),
     "circuit_breakers", ["Do X"]),
    ("catqa.json", jsonl([{"Category": "c", "bad_q": "Do X"}, {"Category": "c", "bad_q": "Y"}]),
     "harmfulness_refusal_separately", ["Do X", "Y"]),
    ("coco.jsonl", jsonl([{"id": "1", "category": "c", "subcategory": "s", "prompt": "Do X"}]),
     "coconot", ["Do X"]),
    ("rows.jsonl", jsonl([{"text": "Do X", "id": "a"}]), "rows", ["Do X"]),
    ("gen.json", json.dumps([{"question": "Do X", "category": "c"}]), "gen", ["Do X"]),
])
def test_format_detection(tmp_path: Path, name: str, text: str, source: str,
                          texts: list[str]) -> None:
    prompts = load_prompts(write(tmp_path, name, text))
    assert [p.text for p in prompts] == texts
    assert {p.source for p in prompts} == {source}


def test_load_prompts_accepts_str_paths(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "goal,target\nDo X,Sure\n")
    assert load_prompts(str(path))[0].text == "Do X"


@pytest.mark.parametrize(("name", "text"), [
    ("data.csv", "foo,bar\n1,2\n"),
    ("data.jsonl", jsonl([{"foo": 1}])),
    ("data.json", json.dumps([{"foo": 1}])),
    ("data.json", json.dumps(42)),
    ("data.json", json.dumps([1, 2])),
    ("data.parquet", "PAR1"),
    ("data", "Do X\n"),
])
def test_unknown_format_lists_supported_formats(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(DataError, match="cannot tell the prompt file format") as info:
        load_prompts(write(tmp_path, name, text))
    message = str(info.value)
    assert "builtin:harmful" in message and "AdvBench" in message and "CoCoNot" in message


def test_load_prompts_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_prompts(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="file is empty"):
        load_prompts(write(tmp_path, "empty.jsonl", ""))
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2: malformed JSON"):
        load_prompts(write(tmp_path, "bad.jsonl", '{"prompt": "a"}\n{nope}\n'))


@pytest.mark.parametrize("kind", ["harmful", "harmless", "pseudo_harmful"])
def test_builtin_specs(kind: str) -> None:
    everything = load_prompts(f"builtin:{kind}")
    train = load_prompts(f"builtin:{kind}:train")
    heldout = load_prompts(f"builtin:{kind}:heldout")
    assert everything == builtin_prompts(kind)  # type: ignore[arg-type]
    assert len(train) + len(heldout) == len(everything)
    assert load_prompts(f"builtin:{kind}:all") == everything


@pytest.mark.parametrize("spec", ["builtin:", "builtin:evil", "builtin:harmful:test",
                                  "builtin:harmful:train:x"])
def test_bad_builtin_specs(spec: str) -> None:
    with pytest.raises(DataError, match="bad built-in spec"):
        load_prompts(spec)


@pytest.mark.parametrize(("rel", "count"), [
    ("advbench/harmful_behaviors.csv", 520),
    ("refusal_direction/splits/harmful_train.json", 260),
    ("refusal_direction/processed/alpaca.json", 31323),
    ("harmbench/harmbench_behaviors_text_all.csv", 300),
    ("xstest/xstest_prompts.csv", 450),
    ("xstest/xstest_v2_completions_gpt4_gpteval.csv", 450),
    ("coconot/coconot_eval.jsonl", 1001),
    ("malicious_instruct/malicious_instruct.txt", 100),
    ("tdc2023/tdc2023_test_behaviors.json", 50),
    ("harmfulness_refusal_separately/catqa_Physical Harm.json", 50),
    ("harmfulness_refusal_separately/human-seed-50-adv.json", 1250),
    ("harmfulness_refusal_separately/example_test_harmless.json", 100),
    ("circuit_breakers/harmbench_test.json", 159),
])
def test_detection_on_real_files(rel: str, count: int) -> None:
    path = SHARED / rel
    if not path.is_file():
        pytest.skip(f"real data file {path} not present (needs ../shared/data next to the repo)")
    assert len(load_prompts(path)) == count
