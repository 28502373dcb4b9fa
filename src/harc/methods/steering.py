"""Shared machinery of the inference-time defences (``cast``, ``actadd``, ``harc_guard``).

A :class:`GenerationDefence` changes what a model generates through forward hooks entered
around each ``model.generate`` call: ``Generator(..., context=defence.context,
model_key=key + defence.model_key_suffix)``. The suffix hashes the defence's calibrated state,
so generations with and without (or with differently calibrated) defences never share cache
entries. :meth:`GenerationDefence.bind` gives the same behaviour to code that only takes a
:class:`~harc.models.LoadedModel` (the evaluation runner as it stands): a model proxy whose
``generate`` runs inside the context and a ``source`` carrying the suffix.

Within one context, forward passes are counted by a top-level pre-hook: the first is the
prompt pass (prefill), every later one processes one generated token. A defence's state is
written to ``defence.json`` + ``defence.safetensors`` and read back with :func:`load_defence`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from harc.errors import HarcError
from harc.io import atomic_path, write_json_atomic
from harc.methods.base import OUTPUT_FILE, MethodOutput
from harc.models.hooks import model_hooks, residual_hooks
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat
from harc.registry import Registry

DEFENCE_FILE = "defence.json"
DEFENCE_TENSORS = "defence.safetensors"
Edit = Callable[[torch.Tensor], torch.Tensor]
# a module imported twice defines its class again: the same defence
DEFENCES: Registry[type[GenerationDefence]] = Registry(
    "defence", same=lambda old, new: old.__qualname__ == new.__qualname__)


@dataclasses.dataclass
class PassCounter:
    """Forward passes of the model seen in one context; the prompt pass's 2-D attention mask."""

    passes: int = 0
    prompt_mask: torch.Tensor | None = None

    @property
    def prefill(self) -> bool:
        return self.passes == 1


@contextmanager
def pass_counter(model: nn.Module) -> Iterator[PassCounter]:
    counter = PassCounter()

    def count(kwargs: dict[str, Any]) -> None:
        counter.passes += 1
        if counter.passes == 1:
            mask = kwargs.get("attention_mask")
            if isinstance(mask, torch.Tensor) and mask.ndim == 2:
                counter.prompt_mask = mask

    with model_hooks(model, before=count):
        yield counter


def residual_edits(model: nn.Module, edits: dict[int, Edit]) -> AbstractContextManager[None]:
    """Replace the residual at each slot by ``edit(hidden)`` (slot L < n: the input of block L,
    slot n: the output of the last block; :func:`harc.models.hooks.residual_hooks`)."""
    return residual_hooks(model, edits)


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over real (mask 1) positions of ``[B, T, D]``; all positions without a mask."""
    if mask is None or mask.shape != hidden.shape[:2]:
        return hidden.float().mean(dim=1)
    weights = mask.to(hidden.device, torch.float32).unsqueeze(-1)
    return (hidden.float() * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def add_vector(vector: torch.Tensor, rows: Callable[[], torch.Tensor | None] | None = None) -> Edit:
    """An edit adding ``vector`` at every position; only to rows where ``rows()`` is True
    (nowhere while it returns None) when ``rows`` is given."""

    def edit(hidden: torch.Tensor) -> torch.Tensor:
        shift = vector.to(hidden.device, hidden.dtype)
        if rows is None:
            return hidden + shift
        gate = rows()
        if gate is None or not bool(gate.any()):
            return hidden
        return hidden + gate.to(hidden.device, hidden.dtype).view(-1, 1, 1) * shift

    return edit


class GenerationDefence(ABC):
    """An inference-time defence of ``model``; subclasses name themselves with ``name``."""

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            DEFENCES.add(cls.name, cls)

    def __init__(self, model: nn.Module, tokenizer: Any, chat: ChatFormat | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.chat = chat or ChatFormat(tokenizer)

    @abstractmethod
    def context(self) -> AbstractContextManager[Any]:
        """Hooks for one ``generate`` call (a fresh per-call state each time)."""

    @abstractmethod
    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """JSON-ready settings, the tensors, and under ``"report"`` the calibration numbers
        (everything but the report goes into :attr:`model_key_suffix`)."""

    @classmethod
    @abstractmethod
    def from_state(
        cls, loaded: LoadedModel, meta: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> GenerationDefence: ...

    @abstractmethod
    def decide(self, prompts: Sequence[str]) -> list[bool]:
        """Whether the defence intervenes for each user prompt."""

    @property
    def model_key_suffix(self) -> str:
        meta, tensors = self.state()
        operative = {k: v for k, v in meta.items() if k != "report"}
        digest = hashlib.sha256(json.dumps(operative, sort_keys=True, default=str).encode())
        for key in sorted(tensors):
            digest.update(key.encode())
            digest.update(tensors[key].detach().float().contiguous().cpu().numpy().tobytes())
        return f"|defence={self.name}@{digest.hexdigest()[:16]}"

    def bind(self, loaded: LoadedModel) -> LoadedModel:
        """``loaded`` with a model proxy that generates through this defence and a ``source``
        (hence a generation-cache key) that names it."""
        return dataclasses.replace(loaded, model=DefendedModel(loaded.model, self),
                                   source=f"{loaded.source}{self.model_key_suffix}")

    def save(self, out_dir: str | Path) -> Path:
        meta, tensors = self.state()
        out = Path(out_dir)
        with atomic_path(out / DEFENCE_TENSORS) as tmp:
            save_file({k: v.detach().float().contiguous().cpu() for k, v in tensors.items()},
                      str(tmp))
        target = out / DEFENCE_FILE
        write_json_atomic(target, {"defence": self.name, **meta})
        return target


def load_defence(out_dir: str | Path, loaded: LoadedModel) -> GenerationDefence:
    """The defence saved in ``out_dir`` by :meth:`GenerationDefence.save`, on ``loaded``."""
    source = Path(out_dir) / DEFENCE_FILE
    if not source.is_file():
        raise HarcError(f"{out_dir}: no {DEFENCE_FILE}")
    try:
        meta = json.loads(source.read_text(encoding="utf-8"))
        tensors = load_file(str(Path(out_dir) / DEFENCE_TENSORS))
    except (OSError, ValueError, SafetensorError) as error:  # JSONDecodeError is a ValueError
        raise HarcError(f"{out_dir}: damaged or incomplete saved defence ({error}); build it "
                        "again") from None
    if not isinstance(meta, dict):
        raise HarcError(f"{source}: not a saved defence (a JSON object is expected)")
    name = meta.pop("defence", None)
    if not isinstance(name, str) or name not in DEFENCES:
        raise HarcError(f"{source}: unknown defence {name!r}; known: {DEFENCES.names()}")
    return DEFENCES.get(name).from_state(loaded, meta, tensors)


def save_wrapper_output(output: MethodOutput, defence: GenerationDefence) -> MethodOutput:
    """Write ``defence`` and then ``method_output.json`` (the completion marker) to
    ``output.out_dir``; the output's wrapper reloads the saved defence on any LoadedModel."""
    defence.save(output.out_dir)
    write_json_atomic(output.out_dir / OUTPUT_FILE, output.to_dict())
    return output


def read_wrapper_output(out_dir: str | Path) -> MethodOutput:
    """A wrapper :class:`MethodOutput` saved by :func:`save_wrapper_output`."""
    source = Path(out_dir) / OUTPUT_FILE
    raw = json.loads(source.read_text(encoding="utf-8"))
    if raw.get("kind") != "wrapper" or not (Path(out_dir) / DEFENCE_FILE).is_file():
        raise HarcError(f"{source}: not a saved inference-time defence")
    return MethodOutput(
        method=raw["method"], kind="wrapper", out_dir=Path(out_dir),
        wrapper=lambda loaded: load_defence(out_dir, loaded), steps=raw.get("steps", 0),
        seconds=raw.get("seconds", 0.0), extra=raw.get("extra", {}),
    )


class DefendedModel:
    """A stand-in for a model whose ``generate`` runs inside a defence's context; everything
    else (forward passes, attributes) goes to the wrapped model unchanged."""

    def __init__(self, model: nn.Module, defence: GenerationDefence) -> None:
        self.wrapped = model
        self.defence = defence

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["wrapped"], name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.wrapped(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        with self.defence.context():
            return self.wrapped.generate(*args, **kwargs)


@torch.inference_mode()
def generate_ids(
    model: nn.Module,
    tokenizer: Any,
    chat: ChatFormat,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int = 8,
    context: Callable[[], AbstractContextManager[Any]] | None = None,
    on_batch: Callable[[list[int], Any], None] | None = None,
) -> list[list[int]]:
    """Greedy new token ids per prompt, cut before the first stop token, uncached (for
    calibration), decoded exactly as :class:`~harc.generation.Generator` decodes.
    ``on_batch(rows, state)`` gets each batch's prompt indices and the context's value."""
    from harc.generation import GenerationSettings, Generator

    plain = Generator(model, tokenizer, chat=chat, progress=False)
    config = plain.generation_config(GenerationSettings(max_new_tokens=max_new_tokens))
    stops = set(plain.stop_ids)
    device = next(model.parameters()).device
    results: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        texts = [chat.format(p) for p in prompts[start : start + batch_size]]
        encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(ids) for ids in encoded)
        input_ids = torch.tensor([[plain.pad_id] * (width - len(ids)) + ids for ids in encoded])
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded])
        with (context() if context is not None else nullcontext()) as state:
            output = model.generate(input_ids=input_ids.to(device),
                                    attention_mask=mask.to(device), generation_config=config)
        for row in output[:, width:].tolist():
            end = next((i for i, token in enumerate(row) if token in stops), len(row))
            results.append(row[:end])
        if on_batch is not None:
            on_batch(list(range(start, start + len(texts))), state)
    return results
