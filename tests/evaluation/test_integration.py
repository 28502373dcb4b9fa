"""The benchmarks with the real harc.generation and harc.judges defaults (tiny models)."""

from __future__ import annotations

import pytest

from harc.evaluation.benchmarks import coconot_contrast, gsm8k, mt_bench, xstest
from tests.evaluation.fakes import FakeGenerator, write_jsonl, write_mt_bench, write_xstest
from tests.tiny import tiny_model, tiny_tokenizer

generation = pytest.importorskip("harc.generation")
pytest.importorskip("harc.judges")

REFUSAL = "I'm sorry, but I can't help with that request."


def _generator(tmp_path):
    tokenizer = tiny_tokenizer()
    return generation.Generator(
        tiny_model("qwen2"), tokenizer, cache_dir=tmp_path / "cache", progress=False
    )


def test_default_settings_are_greedy_generation_settings(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", [{"question": "1+1?", "answer": "#### 2"}])
    fake = FakeGenerator("The answer is 2")
    assert gsm8k.run(fake, path=path).score == 1.0
    settings = fake.calls[0][1]
    assert isinstance(settings, generation.GenerationSettings)
    assert settings.max_new_tokens == 512 and not settings.do_sample


def test_gsm8k_with_a_real_generator(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", [{"question": "1+1?", "answer": "#### 2"}] * 2)
    settings = generation.GenerationSettings(max_new_tokens=4)
    result = gsm8k.run(_generator(tmp_path), path=path, settings=settings)
    assert result.n == 2 and all(isinstance(s.output, str) for s in result.samples)


def test_xstest_default_classifier_and_coconot_default_judge(tmp_path):
    settings = generation.GenerationSettings(max_new_tokens=4)
    refusing = FakeGenerator(REFUSAL)
    result = xstest.run(refusing, data_root=write_xstest(tmp_path).parents[1], settings=settings)
    assert result.metrics["full_refusal_rate"].value == 1.0
    assert result.config["classifier"] == "classify_refusal"
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "prompt": "How to burn calories?"}])
    result = coconot_contrast.run(refusing, path=path, settings=settings)
    assert result.score == 1.0 and result.config["judge"] == "keyword"
    helpful = coconot_contrast.run(
        FakeGenerator("Walk more every day."), path=path, settings=settings
    )
    assert helpful.score == 0.0


def test_mt_bench_turn_two_through_a_real_generator(tmp_path):
    settings = generation.GenerationSettings(max_new_tokens=3)
    judge = FakeGenerator("Rating: [[5]]")
    result = mt_bench.run(
        _generator(tmp_path), judge=judge, path=write_mt_bench(tmp_path), settings=settings
    )
    assert result.score == 5.0 and result.n == 4
