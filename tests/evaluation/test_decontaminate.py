from __future__ import annotations

import json

import pytest

from harc.errors import DataError
from harc.evaluation.benchmarks.common import BenchmarkResult, SampleRecord, proportion
from harc.evaluation.benchmarks.gsm8k import INSTRUCTION
from harc.evaluation.decontaminate import (
    Decontaminator,
    decontaminate_result,
    normalize_text,
    training_prompts,
)


def test_normalize_text():
    assert normalize_text("  How do I  KILL a process?! ") == "how do i kill a process"
    assert normalize_text("Don't—stop_now…") == "don t stop now"
    assert normalize_text("Ｗrite\ta\npoem.") == "write a poem"
    assert normalize_text("?!") == ""


def test_filter_counts_per_set():
    decon = Decontaminator.from_texts(["Write a poem about cats.", "How to bake bread?", "!!"])
    assert decon.reference == frozenset({"write a poem about cats", "how to bake bread"})
    kept = decon.filter("goals", ["write a poem about CATS", "Build a rocket", "how to bake bread"],
                        lambda text: (text,))
    assert kept == ["Build a rocket"]
    decon.filter("other", ["nothing here"], lambda text: (text,))
    report = decon.report()
    assert report["reference_prompts"] == 2
    assert report["sets"] == {
        "goals": {"total": 3, "dropped": 2, "kept": 1},
        "other": {"total": 1, "dropped": 0, "kept": 1},
    }


def test_training_prompts_from_a_run_directory(tmp_path):
    rows = [
        {"set": "harmful", "prompt": "Make a weapon", "kind": "refusal", "response": "No."},
        {"set": "harmless", "prompt": "Bake bread", "kind": "helpful", "response": "Sure."},
    ]
    (tmp_path / "training_answers.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    texts, sources = training_prompts(tmp_path)
    assert texts == {"Make a weapon", "Bake bread"} and len(sources) == 1
    (tmp_path / "config.yaml").write_text(
        "data:\n  harmful: builtin:harmful:train\n  harmless: missing.csv\n", encoding="utf-8"
    )
    texts, sources = training_prompts(tmp_path)
    assert len(texts) > 100 and "builtin:harmful:train" in sources
    assert "missing.csv" not in sources


def test_training_prompts_needs_the_answers_file(tmp_path):
    with pytest.raises(DataError, match=r"training_answers\.jsonl"):
        training_prompts(tmp_path)


def _result(benchmark: str, prompts: list[str], scores: list[float]) -> BenchmarkResult:
    samples = [SampleRecord(p, "out", s, "v") for p, s in zip(prompts, scores, strict=True)]
    return BenchmarkResult(benchmark, "accuracy", {"accuracy": proportion(sum(scores), len(scores)),
                                                   "other": proportion(0, 1)}, samples)


def test_benchmark_samples_are_dropped_and_the_metric_recomputed():
    decon = Decontaminator.from_texts(["What is 2+2?", "Name a colour"])
    result = _result("mmlu", ["What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:", "Other\nA. x"],
                     [1.0, 0.0])
    cleaned = decontaminate_result(result, decon)
    assert cleaned.n == 1 and cleaned.score == 0.0 and set(cleaned.metrics) == {"accuracy"}
    assert "1 of 2 samples dropped" in cleaned.notes[-1]
    assert decon.counts["mmlu"].dropped == 1
    gsm = _result("gsm8k", [INSTRUCTION + "Name a colour", INSTRUCTION + "x"], [0.0, 1.0])
    assert decontaminate_result(gsm, decon).score == 1.0


def test_clean_results_are_returned_unchanged():
    decon = Decontaminator.from_texts(["unrelated"])
    result = _result("xstest", ["a", "b"], [1.0, 0.0])
    assert decontaminate_result(result, decon) is result
    assert decon.counts["xstest"].total == 2 and decon.counts["xstest"].dropped == 0
