from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
import torch

from harc.generation import GenerationSettings, Generator, end_of_turn_id, stop_token_ids
from harc.positions import ChatFormat
from tests.tiny import ARCHITECTURES, template_for, tiny_model, tiny_tokenizer

PROMPTS = ["Write a short poem about the sea and the sky, step by step.", "Hello"]
GREEDY = GenerationSettings(max_new_tokens=6, batch_size=2)


def _generator(model, tokenizer, tmp_path, **kwargs) -> Generator:
    return Generator(model, tokenizer, cache_dir=tmp_path, progress=False, **kwargs)


def _forbid_generate(model, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("model.generate was called")

    monkeypatch.setattr(model, "generate", fail)


def test_batched_greedy_matches_one_by_one(tiny_pair, tmp_path):
    model, tokenizer = tiny_pair
    batched = _generator(model, tokenizer, tmp_path / "a").generate(PROMPTS, GREEDY)
    single = _generator(model, tokenizer, tmp_path / "b")
    one_by_one = [single.generate([prompt], GREEDY)[0] for prompt in PROMPTS]
    assert batched == one_by_one
    assert all(isinstance(text, str) for text in batched)


def test_results_in_input_order_with_duplicates(tmp_path):
    model, tokenizer = tiny_model("qwen2"), tiny_tokenizer(template_for("qwen2"))
    generator = _generator(model, tokenizer, tmp_path)
    expected = {p: generator.generate([p], GREEDY)[0] for p in PROMPTS}
    prompts = [PROMPTS[1], PROMPTS[0], PROMPTS[1]]
    fresh = _generator(model, tokenizer, tmp_path / "fresh")
    assert fresh.generate(prompts, GREEDY) == [
        expected[p] for p in prompts
    ]


def test_cache_hit_skips_the_model(tmp_path, monkeypatch):
    model, tokenizer = tiny_model("llama"), tiny_tokenizer(template_for("llama"))
    first = _generator(model, tokenizer, tmp_path).generate(PROMPTS, GREEDY)
    _forbid_generate(model, monkeypatch)
    again = _generator(model, tokenizer, tmp_path)
    assert again.generate(PROMPTS, GREEDY) == first
    assert again.generate(PROMPTS, GenerationSettings(max_new_tokens=6, batch_size=1)) == first


def test_different_settings_or_model_key_miss_the_cache(tmp_path):
    model, tokenizer = tiny_model("llama"), tiny_tokenizer(template_for("llama"))
    _generator(model, tokenizer, tmp_path).generate(PROMPTS, GREEDY)
    calls = []
    original = model.generate

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    model.generate = spy
    shorter = GenerationSettings(max_new_tokens=2)
    _generator(model, tokenizer, tmp_path).generate(PROMPTS[1:], shorter)
    assert len(calls) == 1
    _generator(model, tokenizer, tmp_path, model_key="other").generate(PROMPTS[1:], shorter)
    assert len(calls) == 2


def test_corrupted_cache_file_is_ignored_with_warning(tmp_path):
    model, tokenizer = tiny_model("llama"), tiny_tokenizer(template_for("llama"))
    first = _generator(model, tokenizer, tmp_path).generate(PROMPTS, GREEDY)
    files = list(tmp_path.rglob("*.json"))
    assert files
    for path in files:
        path.write_text("{not json", encoding="utf-8")
    with pytest.warns(UserWarning, match="unreadable generation cache"):
        again = _generator(model, tokenizer, tmp_path).generate(PROMPTS, GREEDY)
    assert again == first


def test_cache_files_are_json_records(tmp_path):
    model, tokenizer = tiny_model("llama"), tiny_tokenizer(template_for("llama"))
    _generator(model, tokenizer, tmp_path, model_key="m@1").generate(PROMPTS, GREEDY)
    record = json.loads(next(tmp_path.rglob("*.json")).read_text())
    assert record["model_key"] == "m@1"
    assert "batch_size" not in record["settings"]
    assert len(record["entries"]) == len(PROMPTS)


def test_sampling_is_reproducible_with_a_seed(tmp_path):
    model, tokenizer = tiny_model("qwen2"), tiny_tokenizer(template_for("qwen2"))
    settings = GenerationSettings(max_new_tokens=6, do_sample=True, seed=3)
    first = _generator(model, tokenizer, tmp_path / "a").generate(PROMPTS, settings)
    torch.manual_seed(12345)
    second = _generator(model, tokenizer, tmp_path / "b").generate(PROMPTS, settings)
    assert first == second
    other = GenerationSettings(max_new_tokens=6, do_sample=True, seed=4)
    assert _generator(model, tokenizer, tmp_path / "c").generate(PROMPTS, other) != first


def test_sampling_leaves_global_rng_untouched(tmp_path):
    model, tokenizer = tiny_model("qwen2"), tiny_tokenizer(template_for("qwen2"))
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    settings = GenerationSettings(max_new_tokens=4, do_sample=True)
    _generator(model, tokenizer, tmp_path).generate(PROMPTS[:1], settings)
    assert torch.equal(torch.rand(3), expected)


def test_empty_prompt_list(tmp_path, monkeypatch):
    model, tokenizer = tiny_model("llama"), tiny_tokenizer(template_for("llama"))
    _forbid_generate(model, monkeypatch)
    assert _generator(model, tokenizer, tmp_path).generate([]) == []
    assert _generator(model, tokenizer, tmp_path).generate_formatted([]) == []


def test_generate_formatted_uses_text_verbatim(tmp_path):
    model, tokenizer = tiny_model("gemma2"), tiny_tokenizer(template_for("gemma2"))
    generator = _generator(model, tokenizer, tmp_path)
    formatted = ChatFormat(tokenizer).format(PROMPTS[0])
    assert generator.generate_formatted([formatted], GREEDY) == generator.generate(
        PROMPTS[:1], GREEDY
    )


def test_model_generation_config_does_not_leak(tmp_path):
    model, tokenizer = tiny_model("llama"), tiny_tokenizer(template_for("llama"))
    plain = _generator(model, tokenizer, tmp_path / "a").generate(PROMPTS, GREEDY)
    model.generation_config.repetition_penalty = 50.0
    model.generation_config.max_new_tokens = 1
    assert _generator(model, tokenizer, tmp_path / "b").generate(PROMPTS, GREEDY) == plain


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_end_of_turn_token_detected(arch):
    tokenizer = tiny_tokenizer(template_for(arch))
    expected = {"llama": "<|eot_id|>", "qwen2": "<|im_end|>", "gemma2": "<end_of_turn>"}[arch]
    eot = end_of_turn_id(tokenizer, ChatFormat(tokenizer))
    assert tokenizer.convert_ids_to_tokens(eot) == expected
    assert stop_token_ids(tokenizer, ChatFormat(tokenizer)) == [tokenizer.eos_token_id, eot]


def test_raw_template_has_no_end_of_turn_token():
    tokenizer = tiny_tokenizer(None)
    chat = ChatFormat(tokenizer, raw_template="### Instruction:\n{instruction}\n### Response:\n")
    assert end_of_turn_id(tokenizer, chat) is None
    assert stop_token_ids(tokenizer, chat) == [tokenizer.eos_token_id]


def _force_token(model, token_id: int, state: dict):
    @contextmanager
    def context():
        def hook(module, args, output):
            output = output.clone()
            output[..., token_id] += 1e4
            return output

        handle = model.get_output_embeddings().register_forward_hook(hook)
        state["entered"] += 1
        try:
            yield
        finally:
            handle.remove()
            state["exited"] += 1

    return context


def test_context_wraps_generation_and_is_exited(tmp_path):
    model, tokenizer = tiny_model("qwen2"), tiny_tokenizer(template_for("qwen2"))
    plain = _generator(model, tokenizer, tmp_path / "a").generate(PROMPTS, GREEDY)
    token = tokenizer.convert_tokens_to_ids("odel")
    state = {"entered": 0, "exited": 0}
    steered = _generator(
        model, tokenizer, tmp_path / "b", context=_force_token(model, token, state)
    ).generate(PROMPTS, GREEDY)
    assert steered != plain
    assert all(text == tokenizer.decode([token] * 6) for text in steered)
    assert state == {"entered": 1, "exited": 1}
    assert not model.get_output_embeddings()._forward_hooks
    assert _generator(model, tokenizer, tmp_path / "c").generate(PROMPTS, GREEDY) == plain


def test_generation_stops_at_end_of_turn(tmp_path):
    model, tokenizer = tiny_model("llama"), tiny_tokenizer(template_for("llama"))
    eot = tokenizer.convert_tokens_to_ids("<|eot_id|>")
    state = {"entered": 0, "exited": 0}
    generator = _generator(model, tokenizer, tmp_path, context=_force_token(model, eot, state))
    assert generator.generate(PROMPTS, GREEDY) == ["", ""]


def test_settings_validation():
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationSettings(max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        GenerationSettings(do_sample=True, temperature=0.0)
    assert "seed" not in GenerationSettings().cache_fields()
    assert GenerationSettings(do_sample=True).cache_fields()["seed"] == 0
