"""ActAdd: unconditional refusal-direction activation addition (Arditi et al., 2024, §3.2).

The sixth baseline of the comparison, inference-time like CAST. During generation
``alpha * r[L]`` is added to the residual entering block L at every position (prompt and
generated tokens) of every prompt, where ``r[L]`` is the raw difference of means at t_post
(harmful minus harmless EXTRACTION prompts) and ``alpha = 1`` as in the paper. L is the middle
slot whose unit direction best separates the VALIDATION prompts (AUROC at t_post); the paper
selects on validation generations, which costs far more.

Why this and not SafeDecoding (Xu et al., 2024): SafeDecoding contrasts the model's token
distribution with that of a safety-tuned expert model, which we do not have for arbitrary
models; ActAdd needs only the model's own refusal direction, the same ingredient as HARC and
CAST, so the comparison isolates how the direction is used (always on / gated / trained in).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from harc.directions import mean_difference
from harc.directions.selection import choose_refusal_slot
from harc.errors import HarcError
from harc.methods.base import MethodConfig, MethodOutput
from harc.methods.budget import FULL
from harc.methods.cast_calibration import prompt_stats
from harc.methods.registry import register_method
from harc.methods.steering import (
    GenerationDefence,
    add_vector,
    load_defence,
    residual_edits,
    save_wrapper_output,
)
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format
from harc.training.data import TrainingData


class ActAddConfig(MethodConfig):
    layer: int | None = None  # None: the best-separating middle slot on the validation prompts
    alpha: float = 1.0
    batch_size: int = Field(8, gt=0)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"cpu": {}, FULL: {}}


class ActAddDefence(GenerationDefence):
    name = "actadd"

    def __init__(
        self, model: torch.nn.Module, tokenizer: Any, *, slot: int, vector: torch.Tensor,
        report: dict[str, Any] | None = None, chat: ChatFormat | None = None,
    ) -> None:
        super().__init__(model, tokenizer, chat)
        self.slot = slot
        self.vector = vector.float()
        self.report = report or {}

    def context(self) -> AbstractContextManager[None]:
        return residual_edits(self.model, {self.slot: add_vector(self.vector)})

    def decide(self, prompts: Sequence[str]) -> list[bool]:
        active = bool(self.vector.abs().sum() > 0)
        return [active] * len(prompts)

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        return {"slot": self.slot, "report": self.report}, {"vector": self.vector}

    @classmethod
    def from_state(
        cls, loaded: LoadedModel, meta: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> ActAddDefence:
        return cls(loaded.model, loaded.tokenizer, slot=meta["slot"], vector=tensors["vector"],
                   report=meta.get("report"))


@register_method
class ActAddMethod:
    name: ClassVar[str] = "actadd"
    kind: ClassVar[Literal["inference"]] = "inference"
    config_class: ClassVar[type[ActAddConfig]] = ActAddConfig

    def run(
        self, loaded: LoadedModel, data: TrainingData, out_dir: str | Path,
        config: ActAddConfig, *, progress: bool = True,
    ) -> MethodOutput:
        started = time.perf_counter()
        out = Path(out_dir)
        model, chat = loaded.model, chat_format(loaded)

        def t_post(prompts: Sequence[str]) -> torch.Tensor:
            return prompt_stats(model, chat, prompts, batch_size=config.batch_size,
                                progress=progress)["t_post"]

        refusal, norm = mean_difference(t_post(data.extraction.harmful),
                                        t_post(data.extraction.harmless))
        if config.layer is not None:
            slot = config.layer
        elif data.validation_harmful and data.validation_harmless:
            slot = choose_refusal_slot(refusal, t_post(data.validation_harmful),
                                       t_post(data.validation_harmless))
        else:
            raise HarcError("ActAdd picks its layer on the validation prompts; there are none "
                            "(give config.layer)")
        report = {"slot": slot, "alpha": config.alpha, "direction_norm": float(norm[slot]),
                  "config": config.model_dump()}
        defence = ActAddDefence(model, loaded.tokenizer, chat=chat, slot=slot,
                                vector=config.alpha * norm[slot] * refusal[slot], report=report)
        output = MethodOutput(method=self.name, kind="wrapper", out_dir=out,
                              wrapper=lambda target: load_defence(out, target),
                              seconds=time.perf_counter() - started, extra=report)
        return save_wrapper_output(output, defence)
