from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harc.errors import HarcError
from harc.models import LoadedModel, devices, load_model, loading
from harc.models.cpu_bf16 import bf16_matmuls_routed
from harc.models.devices import resolve_device, resolve_dtype
from harc.models.loading import prepare_tokenizer
from tests.tiny import tiny_model, tiny_tokenizer


@pytest.fixture
def saved_llama(tmp_path: Path) -> Path:
    out = tmp_path / "tiny-llama"
    tiny_model("llama", num_layers=2).save_pretrained(out)
    tokenizer = tiny_tokenizer()
    tokenizer.padding_side = "right"
    tokenizer.save_pretrained(out)
    return out


def test_load_local_directory(saved_llama: Path) -> None:
    loaded = load_model(saved_llama, dtype="float32")
    assert isinstance(loaded, LoadedModel)
    assert loaded.source == str(saved_llama.resolve())
    assert loaded.dtype == torch.float32
    assert loaded.device == torch.device("cpu")
    assert not loaded.model.training
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.pad_token == "<pad>"
    assert loaded.model.config.num_hidden_layers == 2
    reference = tiny_model("llama", num_layers=2)
    ids = torch.randint(0, 300, (1, 5))
    with torch.no_grad():
        assert torch.allclose(loaded.model(ids).logits, reference(ids).logits, atol=1e-5)


def test_load_local_directory_bf16(saved_llama: Path) -> None:
    loaded = load_model(str(saved_llama), dtype="bf16")
    assert loaded.dtype == torch.bfloat16
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


def test_bf16_without_native_kernels_routes_matmuls_through_float32(
        saved_llama: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    load_model(saved_llama, dtype="bfloat16")
    assert not bf16_matmuls_routed()
    monkeypatch.setattr(devices, "cpu_flags", lambda: frozenset({"avx2"}))
    load_model(saved_llama, dtype="float32")
    assert not bf16_matmuls_routed()
    loaded = load_model(saved_llama, dtype="bfloat16")
    assert bf16_matmuls_routed()
    assert loaded.dtype == torch.bfloat16  # weights stay bf16; only products are widened


def test_pad_token_falls_back_to_eos() -> None:
    tokenizer = tiny_tokenizer()
    tokenizer.pad_token = None
    prepare_tokenizer(tokenizer)
    assert tokenizer.pad_token == tokenizer.eos_token
    assert tokenizer.padding_side == "left"


def test_missing_model_is_a_harc_error(tmp_path: Path) -> None:
    with pytest.raises(HarcError, match="local_files_only"):
        load_model("no-such-org/no-such-model-harc-test")


def test_non_gguf_file_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "weights.bin"
    bogus.write_bytes(b"nope")
    with pytest.raises(HarcError, match=r"not a \.gguf"):
        load_model(bogus)


def test_gguf_file_missing_in_dir(tmp_path: Path) -> None:
    with pytest.raises(HarcError, match=r"missing\.gguf"):
        load_model(tmp_path, gguf_file="missing.gguf")


def test_several_ggufs_need_a_name(tmp_path: Path) -> None:
    (tmp_path / "a.gguf").write_bytes(b"GGUF")
    (tmp_path / "b.gguf").write_bytes(b"GGUF")
    with pytest.raises(HarcError, match="several GGUF"):
        load_model(tmp_path)


def test_resolve_dtype() -> None:
    assert resolve_dtype("float32") is torch.float32
    assert resolve_dtype("BF16") is torch.bfloat16
    assert resolve_dtype(torch.float16) is torch.float16
    with pytest.raises(HarcError, match="unknown dtype"):
        resolve_dtype("int4")


def test_auto_dtype_is_bf16_only_with_native_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert resolve_dtype("auto") is torch.bfloat16
    monkeypatch.setattr(devices, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert resolve_dtype("AUTO", "cpu") is torch.float32
    assert resolve_dtype("auto", "meta") is torch.float32
    if not torch.cuda.is_available():
        assert resolve_dtype("auto", "cuda") is torch.float32


def test_auto_is_the_default_dtype(saved_llama: Path) -> None:
    assert load_model(saved_llama).dtype is resolve_dtype("auto")


def test_lm_head_input_is_made_contiguous_once(saved_llama: Path) -> None:
    """A frozen head fed a strided slice must not take torch's per-row bmm path (see
    ``contiguous_head_input``): its input arrives contiguous, and the hook is added once."""
    model = load_model(saved_llama, dtype="float32").model
    head = model.get_output_embeddings()
    seen: list[bool] = []
    head.register_forward_pre_hook(lambda _m, args: seen.append(args[0].is_contiguous()))
    loading.contiguous_head_input(model)  # idempotent: no second hook
    assert len(head._forward_pre_hooks) == 2
    model.requires_grad_(False)
    with torch.no_grad():
        model(input_ids=torch.randint(0, 300, (3, 6)), logits_to_keep=2)
    assert seen == [True]


@pytest.fixture
def no_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.delenv("LOCAL_RANK", raising=False)


@pytest.mark.usefixtures("no_accelerator")
def test_auto_device_is_the_cpu_without_an_accelerator() -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("AUTO") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.usefixtures("two_gpus")
def test_auto_device_is_cuda_with_this_ranks_index(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("auto") == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "1")  # torchrun / accelerate launch, second rank
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(HarcError, match=r"^--device cuda:2: this machine has 2 CUDA device"):
        resolve_device("cuda:2")
    assert resolve_device("cuda") == torch.device("cuda")  # one process: as given
    monkeypatch.setenv("WORLD_SIZE", "2")  # a bare "cuda" on rank 1 of 2 is that rank's GPU
    assert resolve_device("cuda") == torch.device("cuda", 1)


@pytest.mark.usefixtures("no_accelerator")
def test_auto_device_falls_back_to_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")


@pytest.mark.usefixtures("no_accelerator")
def test_unavailable_or_unknown_device_is_a_one_line_error() -> None:
    with pytest.raises(HarcError) as error:
        resolve_device("cuda")
    assert str(error.value) == "--device cuda: CUDA is not available on this machine"
    with pytest.raises(HarcError, match=r"^--device mps: MPS is not available"):
        resolve_device("mps")
    for bad in ("gpu", "cuda:x", "meta"):
        with pytest.raises(HarcError, match=f"^--device {bad}: ") as error:
            resolve_device(bad)
        assert "\n" not in str(error.value)


@pytest.mark.usefixtures("no_accelerator")
def test_load_model_resolves_the_device_before_loading(saved_llama: Path) -> None:
    loaded = load_model(saved_llama, dtype="float32", device="auto")
    assert loaded.device == torch.device("cpu")
    assert resolve_dtype("auto", "auto") is resolve_dtype("auto", "cpu")
    with pytest.raises(HarcError, match="CUDA is not available"):
        load_model("no-such-org/no-such-model-harc-test", device="cuda")


def test_what_is_not_a_causal_lm_is_a_one_line_error(tmp_path: Path) -> None:
    from transformers import DistilBertConfig

    with pytest.raises(HarcError, match="no such model directory or file"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(HarcError, match="not a model transformers knows"):
        load_model(tmp_path / "empty")
    DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64).save_pretrained(
        tmp_path / "encoder")
    with pytest.raises(HarcError, match="a distilbert model, not a causal"):
        load_model(tmp_path / "encoder")
