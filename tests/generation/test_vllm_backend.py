"""harc's vLLM backend against a fake ``vllm`` package (tests/generation/fake_vllm.py): the
requests built from GenerationSettings, stop ids, prompt ids, LoRA requests, output order,
the cache, and what happens when vLLM is not installed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from tokenizers.processors import TemplateProcessing

from harc.errors import HarcError
from harc.generation import (
    GenerationSettings,
    Generator,
    VLLMGenerator,
    make_generator,
    vllm_available,
)
from harc.generation.vllm_backend import lora_rank
from harc.positions import ChatFormat
from tests.generation import fake_vllm
from tests.tiny import ARCHITECTURES, template_for, tiny_model, tiny_tokenizer

PROMPTS = ["Write a short poem about the sea and the sky.", "Hello", "Explain how to bake bread."]
GREEDY = GenerationSettings(max_new_tokens=32, batch_size=2)
END_OF_TURN = {"qwen2": "<|im_end|>", "llama": "<|eot_id|>", "gemma2": "<end_of_turn>"}


def _reply(ids: list[int]) -> str:
    return f" answer {len(ids)} {sum(ids)}"


def _install(monkeypatch: pytest.MonkeyPatch, arch: str = "qwen2") -> fake_vllm.FakeVLLM:
    """A fake vLLM whose model answers ``_reply``, then the end-of-turn token, then more text
    (which must not come back), for the ``arch`` template's tokenizer."""
    tokenizer = tiny_tokenizer(template_for(arch))
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN[arch])

    def continuation(ids: list[int]) -> list[int]:
        encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
        return [*encode(_reply(ids)), end, *encode(" leaked past the stop")]

    return fake_vllm.install(monkeypatch, tokenizer, continuation)


def _vllm(state: fake_vllm.FakeVLLM, tmp_path: Path, **kwargs) -> VLLMGenerator:
    return VLLMGenerator("org/model", state.tokenizer, cache_dir=tmp_path / "cache",
                         progress=False, **kwargs)


def _adapter(root: Path, rank: int = 32, weights: bytes = b"weights") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": rank}))
    (root / "adapter_model.safetensors").write_bytes(weights)
    return root


def _expected(tokenizer, prompt: str, chat: ChatFormat | None = None) -> str:
    ids = (chat or ChatFormat(tokenizer)).encode(prompt).input_ids
    return tokenizer.decode(tokenizer(_reply(ids), add_special_tokens=False)["input_ids"])


def test_greedy_request_from_settings(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    _vllm(state, tmp_path).generate(PROMPTS[:1], GenerationSettings(max_new_tokens=5,
                                                                    temperature=0.3, seed=7))
    params = state.calls[0].params.kwargs
    assert params["max_tokens"] == 5 and params["n"] == 1
    assert params["temperature"] == 0.0 and params["top_p"] == 1.0 and params["seed"] is None
    assert params["skip_special_tokens"] is True
    assert state.calls[0].use_tqdm is False and state.calls[0].lora_request is None
    assert state.llms == [{"model": "org/model"}]


def test_sampling_request_uses_exact_temperature_top_p_and_seed(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    settings = GenerationSettings(max_new_tokens=9, do_sample=True, temperature=0.7, top_p=0.9,
                                  seed=13)
    _vllm(state, tmp_path).generate(PROMPTS[:1], settings)
    params = state.calls[0].params.kwargs
    assert (params["max_tokens"], params["temperature"], params["top_p"], params["seed"]) == (
        9, 0.7, 0.9, 13)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_stop_ids_are_eos_and_the_chat_end_of_turn(monkeypatch, tmp_path, arch):
    state = _install(monkeypatch, arch)
    tokenizer = state.tokenizer
    generator = _vllm(state, tmp_path)
    expected = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(END_OF_TURN[arch])]
    assert generator.stop_ids == expected
    outputs = generator.generate(PROMPTS, GREEDY)
    assert state.calls[0].params.kwargs["stop_token_ids"] == expected
    assert outputs == [_expected(tokenizer, prompt) for prompt in PROMPTS]
    assert not any("leaked" in text for text in outputs)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_prompts_are_the_token_ids_the_transformers_backend_feeds(monkeypatch, tmp_path, arch):
    state = _install(monkeypatch, arch)
    tokenizer, model = state.tokenizer, tiny_model(arch)
    chat = ChatFormat(tokenizer, system_prompt="Be brief.")
    fed: list[list[int]] = []
    real_generate = model.generate

    def recording_generate(**kwargs):
        for ids, mask in zip(kwargs["input_ids"].tolist(), kwargs["attention_mask"].tolist(),
                             strict=True):
            fed.append([token for token, keep in zip(ids, mask, strict=True) if keep])
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", recording_generate)
    settings = GenerationSettings(max_new_tokens=2, batch_size=1)
    Generator(model, tokenizer, chat=chat, cache_dir=tmp_path / "hf", progress=False).generate(
        PROMPTS, settings)
    _vllm(state, tmp_path, chat=chat).generate(PROMPTS, settings)
    assert state.prompts == fed
    assert sorted(fed) == sorted(chat.encode(prompt).input_ids for prompt in PROMPTS)
    assert all("Be brief." in tokenizer.decode(ids) for ids in fed)


def test_no_second_bos_when_the_tokenizer_adds_one(monkeypatch, tmp_path):
    tokenizer = tiny_tokenizer(template_for("llama"))  # the template writes {{ bos_token }}
    bos = tokenizer.bos_token_id
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", bos)])
    assert tokenizer("Hi")["input_ids"][0] == bos  # as Llama-3's tokenizer does
    state = fake_vllm.install(monkeypatch, tokenizer, lambda ids: [tokenizer.eos_token_id])
    _vllm(state, tmp_path).generate(PROMPTS, GREEDY)
    chat = ChatFormat(tokenizer)
    assert sorted(state.prompts) == sorted(chat.encode(prompt).input_ids for prompt in PROMPTS)
    assert all(ids[0] == bos and ids.count(bos) == 1 for ids in state.prompts)


def test_output_is_cut_where_the_transformers_backend_cuts(monkeypatch, tmp_path):
    state = _install(monkeypatch, "llama")
    tokenizer = state.tokenizer
    hf = Generator(tiny_model("llama"), tokenizer, cache_dir=tmp_path / "hf", progress=False)
    vllm = _vllm(state, tmp_path)
    assert hf.stop_ids == vllm.stop_ids
    [text] = vllm.generate(PROMPTS[:1], GREEDY)
    ids = ChatFormat(tokenizer).encode(PROMPTS[0]).input_ids
    assert text == hf.decode_new_tokens(state.continuation(ids)) == _expected(tokenizer, PROMPTS[0])


def test_outputs_in_input_order_with_duplicates_and_the_cache(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    tokenizer = state.tokenizer
    prompts = [PROMPTS[1], PROMPTS[0], PROMPTS[1], PROMPTS[2]]
    outputs = _vllm(state, tmp_path).generate(prompts, GREEDY)
    assert outputs == [_expected(tokenizer, prompt) for prompt in prompts]
    assert len(state.prompts) == 3  # the duplicate is generated once
    assert [len(call.prompts) for call in state.calls] == [2, 1]  # batch_size 2
    lengths = [len(ids) for ids in state.prompts]
    assert lengths == sorted(lengths, reverse=True)  # longest first, as for transformers

    again = _vllm(state, tmp_path)
    assert again.generate(prompts, GenerationSettings(max_new_tokens=32, batch_size=1)) == outputs
    assert len(state.calls) == 2  # every answer from the cache
    again.generate(prompts[:1], GenerationSettings(max_new_tokens=4))
    assert len(state.calls) == 3  # other settings: generated again
    _vllm(state, tmp_path, model_key="other").generate(prompts[:1], GREEDY)
    assert len(state.calls) == 4  # other weights: generated again


def test_cache_is_not_shared_with_the_transformers_backend(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    model = tiny_model("qwen2")
    hf = Generator(model, state.tokenizer, cache_dir=tmp_path / "cache", progress=False)
    hf.generate(PROMPTS[:1], GREEDY)
    _vllm(state, tmp_path).generate(PROMPTS[:1], GREEDY)
    assert len(state.calls) == 1


def test_an_adapter_becomes_a_stable_lora_request(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    adapter = _adapter(tmp_path / "adapter")
    generator = _vllm(state, tmp_path, adapter=adapter, gpu_memory_utilization=0.5)
    assert state.llms == [{"model": "org/model", "gpu_memory_utilization": 0.5,
                           "enable_lora": True, "max_lora_rank": 32}]
    request = generator.lora_request
    assert request.lora_path == str(adapter.resolve())
    assert request.lora_name.startswith("harc-") and 0 < request.lora_int_id < 2**31
    generator.generate(PROMPTS, GREEDY)
    assert all(call.lora_request == request for call in state.calls)

    same = _vllm(state, tmp_path, adapter=str(adapter)).lora_request
    assert same == request
    retrained = _vllm(state, tmp_path, adapter=_adapter(tmp_path / "adapter", weights=b"new"))
    other = retrained.lora_request
    assert other.lora_name != request.lora_name and other.lora_int_id != request.lora_int_id


def test_the_adapter_is_part_of_the_cache_key(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    _vllm(state, tmp_path).generate(PROMPTS[:1], GREEDY)
    _vllm(state, tmp_path, adapter=_adapter(tmp_path / "a")).generate(PROMPTS[:1], GREEDY)
    _vllm(state, tmp_path, adapter=_adapter(tmp_path / "a", weights=b"new")).generate(
        PROMPTS[:1], GREEDY)
    _vllm(state, tmp_path, adapter=_adapter(tmp_path / "a", weights=b"new")).generate(
        PROMPTS[:1], GREEDY)
    assert len(state.calls) == 3


def test_lora_rank_fits_the_adapter(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    assert lora_rank(_adapter(tmp_path / "a", rank=4)) == 8
    assert lora_rank(_adapter(tmp_path / "b", rank=48)) == 64
    patterned = _adapter(tmp_path / "c", rank=8)
    (patterned / "adapter_config.json").write_text(
        json.dumps({"r": 8, "rank_pattern": {"q_proj": 100}}))
    assert lora_rank(patterned) == 128
    with pytest.raises(HarcError, match="above vLLM's maximum"):
        lora_rank(_adapter(tmp_path / "d", rank=1024))
    with pytest.raises(HarcError, match="not a PEFT adapter"):
        VLLMGenerator("m", state.tokenizer, adapter=tmp_path / "missing", cache_dir=tmp_path)


def test_a_ready_llm_is_used_as_is(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    import vllm

    llm = vllm.LLM(model="built/elsewhere")
    generator = _vllm(state, tmp_path, adapter=_adapter(tmp_path / "a"))
    ready = VLLMGenerator(llm, state.tokenizer, cache_dir=tmp_path, progress=False)
    assert ready.llm is llm and generator.llm is not llm
    with pytest.raises(HarcError, match=r"ready vllm\.LLM"):
        VLLMGenerator(llm, state.tokenizer, cache_dir=tmp_path, gpu_memory_utilization=0.5)


def test_make_generator_builds_vllm(monkeypatch, tmp_path, caplog):
    state = _install(monkeypatch)
    assert vllm_available()
    with caplog.at_level(logging.INFO, logger="harc.generation.factory"):
        auto = make_generator("org/model", state.tokenizer, cache_dir=tmp_path, max_model_len=64)
    assert isinstance(auto, VLLMGenerator) and "backend: vllm" in caplog.text
    assert state.llms[-1] == {"model": "org/model", "max_model_len": 64}
    loaded = make_generator(tiny_model("qwen2"), state.tokenizer, cache_dir=tmp_path)
    assert isinstance(loaded, Generator)
    hooked = make_generator(tiny_model("qwen2"), state.tokenizer, cache_dir=tmp_path,
                            context=torch.inference_mode)
    assert isinstance(hooked, Generator)


def test_empty_formatted_prompt_is_a_clear_error(monkeypatch, tmp_path):
    state = _install(monkeypatch)
    with pytest.raises(HarcError, match="has no tokens"):
        _vllm(state, tmp_path).generate_formatted([""], GREEDY)


def test_without_vllm_auto_falls_back_to_transformers_and_says_so(monkeypatch, tmp_path, caplog):
    fake_vllm.remove(monkeypatch)
    tokenizer = tiny_tokenizer(template_for("qwen2"))
    assert not vllm_available()
    with caplog.at_level(logging.INFO, logger="harc.generation.factory"):
        generator = make_generator(tiny_model("qwen2"), tokenizer, cache_dir=tmp_path)
    assert isinstance(generator, Generator) and "backend: transformers" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="harc.generation.factory"), pytest.raises(
        HarcError, match="vLLM, which can take a path, is not installed"
    ):
        make_generator("org/model", tokenizer, cache_dir=tmp_path)
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "pip install vllm" in record.getMessage()


def test_without_vllm_an_explicit_request_is_one_clear_line(monkeypatch, tmp_path):
    fake_vllm.remove(monkeypatch)
    tokenizer = tiny_tokenizer(template_for("qwen2"))
    for build in (
        lambda: make_generator("org/model", tokenizer, backend="vllm", cache_dir=tmp_path),
        lambda: VLLMGenerator("org/model", tokenizer, cache_dir=tmp_path),
    ):
        with pytest.raises(HarcError) as caught:
            build()
        message = str(caught.value)
        assert "\n" not in message and "pip install vllm" in message


def test_transformers_backend_refuses_vllm_options(tmp_path):
    model, tokenizer = tiny_model("qwen2"), tiny_tokenizer(template_for("qwen2"))
    with pytest.raises(HarcError, match="adapter"):
        make_generator(model, tokenizer, cache_dir=tmp_path, adapter=_adapter(tmp_path / "a"))
