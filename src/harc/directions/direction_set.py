"""The direction container and its safetensors + JSON-sidecar file format."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

import harc
from harc.errors import DirectionError
from harc.io import atomic_path, write_json_atomic

_TENSOR_FIELDS = (
    "harm",
    "refusal",
    "harm_norm",
    "refusal_norm",
    "harm_resp",
    "refusal_resp",
    "harm_resp_norm",
    "refusal_resp_norm",
)
SIDECAR_SUFFIX = ".json"


@dataclass
class DirectionSet:
    """Per-slot unit directions. Slot L is the residual entering block L; slot n leaves the last.

    ``harm``/``refusal`` are prompt-side (t_inst / t_post); the ``*_resp`` pair is response-side.
    ``*_norm`` hold the raw mean-gap norms before normalisation.
    """

    harm: torch.Tensor
    refusal: torch.Tensor
    harm_norm: torch.Tensor | None = None
    refusal_norm: torch.Tensor | None = None
    harm_resp: torch.Tensor | None = None
    refusal_resp: torch.Tensor | None = None
    harm_resp_norm: torch.Tensor | None = None
    refusal_resp_norm: torch.Tensor | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.harm.ndim != 2 or self.harm.shape != self.refusal.shape:
            raise DirectionError(
                f"harm and refusal must both be [slots, hidden]; got {tuple(self.harm.shape)} and "
                f"{tuple(self.refusal.shape)}"
            )
        for name in ("harm_resp", "refusal_resp"):
            value = getattr(self, name)
            if value is not None and value.shape != self.harm.shape:
                raise DirectionError(
                    f"{name} has shape {tuple(value.shape)}, expected {tuple(self.harm.shape)}"
                )

    @property
    def num_slots(self) -> int:
        return int(self.harm.shape[0])

    @property
    def hidden_size(self) -> int:
        return int(self.harm.shape[1])

    @property
    def has_response(self) -> bool:
        return self.harm_resp is not None and self.refusal_resp is not None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            name: getattr(self, name) for name in _TENSOR_FIELDS if getattr(self, name) is not None
        }

    def with_response(self, response: dict[str, torch.Tensor]) -> DirectionSet:
        return dataclasses.replace(self, **response)

    def prompt_cosine(self) -> torch.Tensor:
        """cos(v_harm[L], v_ref[L]) per slot."""
        return torch.nn.functional.cosine_similarity(self.harm, self.refusal, dim=-1)

    def save(self, path: str | Path) -> Path:
        """Write ``<path>.safetensors`` and ``<path>.json``; returns the safetensors path."""
        target = _with_suffix(Path(path))
        tensors = {
            name: value.detach().float().contiguous().cpu()
            for name, value in self.tensors().items()
        }
        with atomic_path(target) as tmp:
            save_file(
                tensors,
                str(tmp),
                metadata={"format": "harc-directions", "harc_version": harc.__version__},
            )
        sidecar = {
            "harc_version": harc.__version__,
            "num_slots": self.num_slots,
            "hidden_size": self.hidden_size,
            **self.metadata,
        }
        write_json_atomic(target.with_suffix(SIDECAR_SUFFIX), sidecar)
        return target

    @classmethod
    def load(cls, path: str | Path) -> DirectionSet:
        """Load a direction file written by :meth:`save`. Only safetensors are accepted."""
        target = _with_suffix(Path(path))
        if target.suffix != ".safetensors":
            raise DirectionError(
                f"{target}: directions are read from .safetensors only (no pickles)"
            )
        if not target.exists():
            raise DirectionError(f"{target}: no such direction file")
        try:
            with safe_open(str(target), framework="pt") as handle:
                if (handle.metadata() or {}).get("format") != "harc-directions":
                    raise DirectionError(f"{target}: not a harc direction file")
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        except DirectionError:
            raise
        except Exception as error:
            raise DirectionError(f"{target}: unreadable safetensors file ({error})") from error
        missing = {"harm", "refusal"} - tensors.keys()
        if missing:
            raise DirectionError(f"{target}: missing tensors {sorted(missing)}")
        sidecar_path = target.with_suffix(SIDECAR_SUFFIX)
        metadata: dict = {}
        if sidecar_path.exists():
            try:
                metadata = json.loads(sidecar_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise DirectionError(f"{sidecar_path}: damaged metadata sidecar ({error}); "
                                     "delete it to load the directions without metadata") from None
            if not isinstance(metadata, dict):
                raise DirectionError(f"{sidecar_path}: the metadata sidecar is not a JSON object")
        unknown = tensors.keys() - set(_TENSOR_FIELDS)
        if unknown:
            raise DirectionError(f"{target}: unexpected tensors {sorted(unknown)}")
        return cls(**tensors, metadata=metadata)


def _with_suffix(path: Path) -> Path:
    return (
        path
        if path.suffix in {".safetensors", ".pt", ".bin", ".pkl"}
        else path.with_suffix(".safetensors")
    )
