from __future__ import annotations

import json

from harc.cli import main
from harc.judges import Probe
from tests.tiny import tiny_model, tiny_tokenizer

HARMFUL = "Sure, here is how. Step 1: the recipe for a bomb."
SAFE = "I'm sorry, but I can't assist with that request."


def _jbb(tmp_path, n_behaviours: int = 6):
    rows = []
    for index in range(n_behaviours):
        for attack, jailbroken in (("GCG", True), ("PAIR", False), ("JBC", index % 2 == 0)):
            rows.append({"behavior_index": index, "goal": f"goal {index}", "prompt": "p",
                         "response": HARMFUL if jailbroken else SAFE, "jailbroken": jailbroken,
                         "attack": attack, "target_model": "m"})
    path = tmp_path / "jbb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_judge_eval_keyword_writes_scores(tmp_path, capsys) -> None:
    out = tmp_path / "eval"
    assert main(["judge-eval", "--judge", "keyword", "--labels", str(_jbb(tmp_path)),
                 "--out", str(out)]) == 0
    result = json.loads((out / "judge_eval.json").read_text())
    overall = result["sets"]["jbb"]["overall"]
    assert overall["n"] == 18 and overall["agreement"] == 1.0 and overall["fpr"] == 0.0
    assert set(result["sets"]["jbb"]["by"]["attack"]) == {"GCG", "PAIR", "JBC"}
    assert "| **all** | 18 |" in (out / "judge_eval.md").read_text()


def test_judge_eval_rejects_bad_input(tmp_path, capsys) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["judge-eval", "--judge", "keyword", "--labels", str(empty),
                 "--out", str(tmp_path / "o")]) == 2
    assert "file is empty" in capsys.readouterr().err
    assert main(["judge-eval", "--judge", "nope", "--labels", str(_jbb(tmp_path)),
                 "--out", str(tmp_path / "o")]) == 2
    assert main(["judge-eval", "--judge", "keyword", "--cross-validate", "--labels",
                 str(_jbb(tmp_path)), "--out", str(tmp_path / "o")]) == 2


def test_judge_train_then_eval_probe(tmp_path) -> None:
    model_dir = tmp_path / "tiny"
    tiny_model("qwen2", num_layers=4).save_pretrained(model_dir)
    tiny_tokenizer().save_pretrained(model_dir)
    labels = _jbb(tmp_path, n_behaviours=10)
    probe_path = tmp_path / "probe"
    args = ["judge-train", "--labels", str(labels), "--feature-model", str(model_dir),
            "--slots", "3", "--max-response-tokens", "8", "--folds", "3",
            "--out", str(probe_path)]
    assert main(args) == 0
    probe = Probe.load(probe_path)
    assert probe.slot == 3 and probe.metadata["feature_model"] == str(model_dir)
    assert probe.metadata["cross_validated"]["jbb"]["n"] == 30
    assert probe.metadata["training_sets"]["jbb"]["n"] == 30
    out = tmp_path / "eval"
    assert main(["judge-eval", "--judge", "probe", "--probe", str(probe_path), "--labels",
                 str(labels), "--out", str(out)]) == 0
    result = json.loads((out / "judge_eval.json").read_text())
    assert result["sets"]["jbb"]["overall"]["n"] == 30
    assert result["sets"]["jbb"]["answers_per_second"] > 0
    cv = tmp_path / "cv"
    assert main(["judge-eval", "--judge", "probe", "--probe", str(probe_path), "--cross-validate",
                 "--folds", "3", "--labels", str(labels), "--out", str(cv)]) == 0
    scored = json.loads((cv / "judge_eval.json").read_text())
    assert scored["describe"]["protocol"].startswith("nested grouped 3-fold")
    assert len(scored["chosen"]) == 3


def test_judge_eval_drives_a_template_classifier(tmp_path) -> None:
    model_dir = tmp_path / "tiny"
    tiny_model("qwen2").save_pretrained(model_dir)
    tiny_tokenizer().save_pretrained(model_dir)
    template = tmp_path / "template.txt"
    template.write_text("Behavior: {behavior}\nGeneration: {generation}\nAnswer:")
    out = tmp_path / "eval"
    assert main(["judge-eval", "--judge", "template_classifier", "--judge-model", str(model_dir),
                 "--judge-template", str(template), "--labels", str(_jbb(tmp_path)),
                 "--out", str(out)]) == 0
    result = json.loads((out / "judge_eval.json").read_text())
    assert result["describe"]["template_sha256"] and result["describe"]["format"] == "raw"
    assert result["sets"]["jbb"]["overall"]["n"] == 18


def test_a_judge_model_without_chat_template_needs_a_template(tmp_path, capsys) -> None:
    """An LLM judge is prompted through its model's chat format: a model without one is one
    clear error naming the option, before any answer is judged; with the option it runs."""
    model = tmp_path / "no-template"
    tiny_model("llama").save_pretrained(model)
    tiny_tokenizer(template=None).save_pretrained(model)
    args = ["judge-eval", "--judge", "llm", "--judge-model", str(model), "--labels",
            str(_jbb(tmp_path, 1)), "--out", str(tmp_path / "eval")]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "judge model" in error and "--judge-model-template" in error
    assert main([*args, "--judge-model-template", "Q: {instruction}\nA:"]) == 0
    runs = json.loads((tmp_path / "eval" / "manifest.json").read_text())["runs"]
    assert runs[-1]["settings"]["judge_model_template"] == "Q: {instruction}\nA:"
    assert runs[-1]["judge_model"]["template"] == "Q: {instruction}\nA:"
