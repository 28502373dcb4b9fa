"""CAST: conditional activation steering (Lee et al., IBM 2024) with the model's own vectors.

Condition. ``m[L]`` is the residual at slot L averaged over every token of the formatted
prompt; ``c[L] = unit(mean_harmful m[L] - mean_harmless m[L])`` over the EXTRACTION prompts
of the training data. During generation the prompt pass computes ``s = cos(m[L*], c[L*])``
per row, and the condition fires when ``sign * (s - threshold) > 0``.

Grid search and alpha calibration: :mod:`harc.methods.cast_calibration`.

Behaviour. Where the condition fires, ``alpha * b[L]`` is added at every behaviour slot, at
every position of every later forward pass: all generated tokens, and in the prompt pass the
slots from L* on (shallower ones have run before the condition is known). ``b`` is a raw
(un-normalised) refusal mean difference: t_post harmful minus harmless (``refusal``, the
vector of Arditi et al.) or refusal answers minus helpful answers over the first
``response_tokens`` answer tokens (``refusal_resp``). Default behaviour slot: the middle slot
whose v_ref best separates the validation prompts (AUROC at t_post). ``alpha``: the smallest
value of ``alpha_grid`` with which steering, forced on, makes at least ``target_refusal`` of
``calibration_prompts`` validation harmless prompts refuse (keyword judge); the best one when
none does. The paper uses PCA vectors and hand-picked layers; we use differences of means.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from harc.activations import residual_hooks
from harc.directions import extract_response_directions, mean_difference
from harc.directions.selection import choose_refusal_slot
from harc.directions.statistics import projection_cosines
from harc.errors import HarcError
from harc.methods.base import MethodConfig, MethodOutput
from harc.methods.budget import FULL
from harc.methods.cast_calibration import calibrate_alpha, grid_search, prompt_stats
from harc.methods.registry import register_method
from harc.methods.steering import (
    GenerationDefence,
    add_vector,
    load_defence,
    masked_mean,
    pass_counter,
    residual_edits,
    save_wrapper_output,
)
from harc.models.blocks import num_residual_slots
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format
from harc.training.data import TrainingData


class CastConfig(MethodConfig):
    condition_layers: list[int] | None = None  # candidate slots; None = 1..n-1
    signs: Literal["both", "greater"] = "both"
    behaviour_layers: list[int] | None = None  # None = the best-separating middle slot
    behaviour_source: Literal["refusal", "refusal_resp"] = "refusal"
    alpha_grid: list[float] = Field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0], min_length=1)
    target_refusal: float = Field(0.8, gt=0, le=1)
    calibration_prompts: int = Field(16, gt=0)
    calibration_new_tokens: int = Field(32, gt=0)
    response_tokens: int = Field(32, gt=0)
    batch_size: int = Field(8, gt=0)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "cpu": {"alpha_grid": [1.0, 2.0, 4.0], "calibration_prompts": 8,
                "calibration_new_tokens": 16},
        # The powered comparison (issue 16): the paper-default grid, 32 calibration prompts.
        FULL: {"calibration_prompts": 32, "calibration_new_tokens": 32},
    }


@dataclass
class CastState:
    gate: torch.Tensor | None = None  # [batch] bool, set in the prompt pass
    scores: torch.Tensor | None = None  # [batch] condition cosines


class CastDefence(GenerationDefence):
    name = "cast"

    def __init__(
        self, model: torch.nn.Module, tokenizer: Any, *, condition_slot: int,
        condition: torch.Tensor, threshold: float, sign: int, behaviour: dict[int, torch.Tensor],
        report: dict[str, Any] | None = None, chat: ChatFormat | None = None,
    ) -> None:
        super().__init__(model, tokenizer, chat)
        self.condition_slot = condition_slot
        self.condition = condition.float()
        self.threshold = threshold
        self.sign = sign
        self.behaviour = {int(k): v.float() for k, v in behaviour.items()}
        self.report = report or {}

    def context(self, force: bool = False) -> AbstractContextManager[CastState]:
        return self._hooks(force)

    @contextmanager
    def _hooks(self, force: bool) -> Iterator[CastState]:
        state = CastState()

        def observe(_slot: int, hidden: torch.Tensor) -> None:
            if not counter.prefill:
                return
            mean = masked_mean(hidden, counter.prompt_mask)
            scores = F.cosine_similarity(mean, self.condition.to(mean.device)[None], dim=-1)
            state.scores = scores.cpu()
            state.gate = (torch.ones_like(scores, dtype=torch.bool) if force
                          else self.sign * (scores - self.threshold) > 0)

        edits = {slot: add_vector(v, rows=lambda: state.gate) for slot, v in self.behaviour.items()}
        with (pass_counter(self.model) as counter,
              residual_hooks(self.model, [self.condition_slot], observe,
                             stop_after_deepest=False),
              residual_edits(self.model, edits)):
            yield state

    @torch.inference_mode()
    def condition_scores(self, prompts: Sequence[str], batch_size: int = 8) -> torch.Tensor:
        """cos(prompt mean, condition) per prompt, computed by the generation-time hooks."""
        device = next(self.model.parameters()).device
        scores = []
        for start in range(0, len(prompts), batch_size):
            texts = [self.chat.format(p) for p in prompts[start : start + batch_size]]
            batch = self.tokenizer(texts, padding=True, add_special_tokens=False,
                                   return_tensors="pt").to(device)
            with self.context() as state:
                self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            assert state.scores is not None
            scores.append(state.scores)
        return torch.cat(scores) if scores else torch.empty(0)

    def decide(self, prompts: Sequence[str]) -> list[bool]:
        return (self.sign * (self.condition_scores(prompts) - self.threshold) > 0).tolist()

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        meta = {"condition_slot": self.condition_slot, "threshold": self.threshold,
                "sign": self.sign, "behaviour_slots": sorted(self.behaviour),
                "report": self.report}
        tensors = {"condition": self.condition,
                   **{f"behaviour.{slot}": v for slot, v in self.behaviour.items()}}
        return meta, tensors

    @classmethod
    def from_state(
        cls, loaded: LoadedModel, meta: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> CastDefence:
        return cls(loaded.model, loaded.tokenizer, condition_slot=meta["condition_slot"],
                   condition=tensors["condition"], threshold=meta["threshold"],
                   sign=meta["sign"], report=meta.get("report"),
                   behaviour={s: tensors[f"behaviour.{s}"] for s in meta["behaviour_slots"]})


@register_method
class CastMethod:
    name: ClassVar[str] = "cast"
    kind: ClassVar[Literal["inference"]] = "inference"
    config_class: ClassVar[type[CastConfig]] = CastConfig

    def run(
        self, loaded: LoadedModel, data: TrainingData, out_dir: str | Path, config: CastConfig,
        *, progress: bool = True,
    ) -> MethodOutput:
        started = time.perf_counter()
        out = Path(out_dir)
        model, chat = loaded.model, chat_format(loaded)
        if not data.validation_harmful or not data.validation_harmless:
            raise HarcError("CAST calibrates on the validation prompts; the training data has none")

        def stats(prompts: Sequence[str]) -> dict[str, torch.Tensor]:
            return prompt_stats(model, chat, prompts, batch_size=config.batch_size,
                                progress=progress)

        ext_h, ext_b = stats(data.extraction.harmful), stats(data.extraction.harmless)
        val_h, val_b = stats(data.validation_harmful), stats(data.validation_harmless)
        candidates = config.condition_layers or list(range(1, num_residual_slots(model) - 1))
        condition, _ = mean_difference(ext_h["mean"], ext_b["mean"])
        choice = grid_search(projection_cosines(val_h["mean"], condition)[:, candidates],
                             projection_cosines(val_b["mean"], condition)[:, candidates],
                             candidates, (1, -1) if config.signs == "both" else (1,))
        refusal, refusal_norm = mean_difference(ext_h["t_post"], ext_b["t_post"])
        behaviour_slots = config.behaviour_layers or [
            choose_refusal_slot(refusal, val_h["t_post"], val_b["t_post"])]
        if config.behaviour_source == "refusal":
            raw = refusal * refusal_norm[:, None]
        else:
            resp = extract_response_directions(
                model, chat, data.extraction.harmful_answers, data.extraction.refusals,
                data.extraction.helpful, first_k=config.response_tokens,
                batch_size=config.batch_size, progress=progress)
            raw = resp["refusal_resp"] * resp["refusal_resp_norm"][:, None]
        report: dict[str, Any] = {
            "condition": choice.as_dict(), "behaviour_slots": behaviour_slots,
            "behaviour_source": config.behaviour_source,
            "behaviour_norms": {str(s): float(raw[s].norm()) for s in behaviour_slots},
            "validation": {"harmful": len(data.validation_harmful),
                           "harmless": len(data.validation_harmless)},
        }

        def build(alpha: float) -> CastDefence:
            return CastDefence(model, loaded.tokenizer, chat=chat, condition_slot=choice.slot,
                               condition=condition[choice.slot], threshold=choice.threshold,
                               sign=choice.sign, report=report,
                               behaviour={s: alpha * raw[s] for s in behaviour_slots})

        alpha, table = calibrate_alpha(
            build, data.validation_harmless[: config.calibration_prompts], config)
        report.update(alpha=alpha, alpha_calibration=table, config=config.model_dump())
        output = MethodOutput(method=self.name, kind="wrapper", out_dir=out,
                              wrapper=lambda target: load_defence(out, target),
                              seconds=time.perf_counter() - started, extra=report)
        return save_wrapper_output(output, build(alpha))
