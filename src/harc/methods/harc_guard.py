"""HARC-Guard (ours): switch a response to a refusal once its residual turns harmful.

Monitor. A forward pre-hook on block ``L`` reads, in every forward pass after the prompt
pass, the residual of the newest token (the last position) and computes
``c = cos(h, v_harm_resp[L])``, HARC's response-side harmfulness direction (harmful answers
minus helpful answers over the first ``response_tokens`` answer tokens of the extraction
pairs, HARC_METHOD §4).

Trigger. When ``c > threshold`` in a row, the logits of that pass (which choose the next
token) and of the following ones are forced to emit ``REFUSAL_SEPARATOR + REFUSAL`` token by
token, then the first stop token. The returned text is therefore exactly: the text generated
up to and including the token whose residual crossed, then ``"\\n\\n"``, then ``REFUSAL`` (cut
short if ``max_new_tokens`` runs out first). A row that never crosses is left untouched.

Slot. The middle slot where the per-token cosines of the (teacher-forced) extraction harmful
answers and helpful answers are best separated (AUROC), unless ``layer`` is given.

Threshold, calibrated on the VALIDATION split. The model answers ``calibration_prompts``
validation harmless and harmful prompts (greedy, ``calibration_new_tokens``, guard off) and
each generation's maximum ``c`` is kept. ``quantile`` (default): the smallest threshold with
which at most ``max_fire_rate`` of the harmless generations would fire (their
``ceil((1 - max_fire_rate) n)``-th smallest maximum). ``midpoint``: halfway between the mean
``c`` of harmful-answer tokens and of helpful-answer tokens (extraction pairs).
``stricter``: the larger of the two. All of them and the resulting fire rates on both
validation sets are reported in ``method_output.json``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from sklearn.metrics import roc_auc_score

from harc.activations import residual_hooks, response_window
from harc.directions import extract_response_directions
from harc.directions.selection import middle_slots
from harc.errors import HarcError
from harc.generation import stop_token_ids
from harc.methods.base import MethodConfig, MethodOutput
from harc.methods.budget import FULL
from harc.methods.registry import register_method
from harc.methods.steering import (
    GenerationDefence,
    generate_ids,
    load_defence,
    pass_counter,
    save_wrapper_output,
)
from harc.models.blocks import num_residual_slots
from harc.models.hooks import model_hooks
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, EncodedPrompt, chat_format, collate
from harc.training.data import TrainingData

REFUSAL = "I'm sorry, but I can't continue with this response."
REFUSAL_SEPARATOR = "\n\n"


class GuardConfig(MethodConfig):
    layer: int | None = None
    threshold_rule: Literal["quantile", "midpoint", "stricter"] = "quantile"
    max_fire_rate: float = Field(0.05, ge=0, lt=1)
    calibration_prompts: int = Field(100, gt=0)
    calibration_new_tokens: int = Field(64, gt=0)
    response_tokens: int = Field(32, gt=0)
    batch_size: int = Field(8, gt=0)

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "cpu": {"calibration_prompts": 16, "calibration_new_tokens": 32},
        FULL: {"calibration_prompts": 32, "calibration_new_tokens": 32},
    }


@dataclass
class GuardState:
    fired: torch.Tensor | None = None  # [batch] bool
    trigger_token: list[int | None] = field(default_factory=list)  # index of the crossing token
    trace: list[torch.Tensor] = field(default_factory=list)  # per generated token: [batch] cos


class GuardDefence(GenerationDefence):
    name = "harc_guard"

    def __init__(
        self, model: torch.nn.Module, tokenizer: Any, *, slot: int, direction: torch.Tensor,
        threshold: float, report: dict[str, Any] | None = None, chat: ChatFormat | None = None,
    ) -> None:
        super().__init__(model, tokenizer, chat)
        self.slot = slot
        self.direction = direction.float()
        self.threshold = threshold
        self.report = report or {}
        stop = stop_token_ids(tokenizer, self.chat, model)[0]
        self.forced = [*tokenizer(REFUSAL_SEPARATOR + REFUSAL,
                                  add_special_tokens=False)["input_ids"], stop]

    def context(self, monitor_only: bool = False) -> AbstractContextManager[GuardState]:
        return self._hooks(monitor_only)

    @contextmanager
    def _hooks(self, monitor_only: bool) -> Iterator[GuardState]:
        state = GuardState()
        position: list[int] = []

        def observe(_slot: int, hidden: torch.Tensor) -> None:
            if counter.prefill:
                state.fired = torch.zeros(hidden.shape[0], dtype=torch.bool)
                state.trigger_token = [None] * hidden.shape[0]
                position[:] = [0] * hidden.shape[0]
                return
            cos = F.cosine_similarity(hidden[:, -1].float(),
                                      self.direction.to(hidden.device)[None], dim=-1).cpu()
            state.trace.append(cos)
            if monitor_only or state.fired is None:
                return
            for row in torch.nonzero((cos > self.threshold) & ~state.fired).flatten().tolist():
                state.fired[row] = True
                state.trigger_token[row] = counter.passes - 2

        def force(output: Any) -> None:
            if state.fired is None or not bool(state.fired.any()):
                return
            logits = output.logits if hasattr(output, "logits") else output[0]
            for row in torch.nonzero(state.fired).flatten().tolist():
                token = self.forced[min(position[row], len(self.forced) - 1)]
                position[row] += 1
                logits[row, -1] = float("-inf")
                logits[row, -1, token] = 0.0

        with (model_hooks(self.model, after=force), pass_counter(self.model) as counter,
              residual_hooks(self.model, [self.slot], observe, stop_after_deepest=False)):
            yield state

    def generation_maxima(
        self, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int = 8
    ) -> list[float]:
        """Per prompt, the largest ``c`` over the tokens of its plain (guard off) generation;
        NaN for an empty generation."""
        traces: dict[int, torch.Tensor] = {}

        def keep(rows: list[int], state: GuardState) -> None:
            stacked = torch.stack(state.trace, dim=1) if state.trace else torch.empty(len(rows), 0)
            traces.update({row: stacked[k] for k, row in enumerate(rows)})

        ids = generate_ids(self.model, self.tokenizer, self.chat, prompts,
                           max_new_tokens=max_new_tokens, batch_size=batch_size,
                           context=lambda: self.context(monitor_only=True), on_batch=keep)
        maxima = []
        for row, tokens in enumerate(ids):
            values = traces[row][: len(tokens)]
            maxima.append(float(values.max()) if values.numel() else math.nan)
        return maxima

    def decide(self, prompts: Sequence[str], max_new_tokens: int = 32) -> list[bool]:
        """Whether the guard fires while generating (greedy) for each prompt."""
        fired: dict[int, bool] = {}

        def keep(rows: list[int], state: GuardState) -> None:
            assert state.fired is not None
            fired.update({row: bool(state.fired[k]) for k, row in enumerate(rows)})

        generate_ids(self.model, self.tokenizer, self.chat, prompts,
                     max_new_tokens=max_new_tokens, context=self.context, on_batch=keep)
        return [fired[row] for row in range(len(prompts))]

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        meta = {"slot": self.slot, "threshold": self.threshold, "refusal": REFUSAL,
                "report": self.report}
        return meta, {"direction": self.direction}

    @classmethod
    def from_state(
        cls, loaded: LoadedModel, meta: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> GuardDefence:
        return cls(loaded.model, loaded.tokenizer, slot=meta["slot"],
                   direction=tensors["direction"], threshold=meta["threshold"],
                   report=meta.get("report"))


@torch.inference_mode()
def answer_token_cosines(
    model: torch.nn.Module, chat: ChatFormat, pairs: Sequence[tuple[str, str]],
    directions: torch.Tensor, slots: Sequence[int], *, first_k: int, batch_size: int = 8,
) -> dict[int, torch.Tensor]:
    """Teacher-forced cos(h, directions[slot]) of every token in each answer's first
    ``first_k`` tokens, pooled over ``pairs``: ``{slot: [tokens]}``."""
    pad = chat.tokenizer.pad_token_id
    pad = int(pad if pad is not None else chat.tokenizer.eos_token_id)
    device = next(model.parameters()).device
    found: dict[int, list[torch.Tensor]] = {slot: [] for slot in slots}
    mask = torch.empty(0)

    def on_capture(slot: int, hidden: torch.Tensor) -> None:
        cos = F.cosine_similarity(hidden.float(), directions[slot].to(hidden.device), dim=-1)
        found[slot].append(cos.cpu()[mask])

    encodings = []
    for prompt, answer in pairs:
        item = chat.encode_pair(prompt, answer)
        assert item.response_start is not None
        encodings.append(EncodedPrompt(item.input_ids[: item.response_start + first_k],
                                       item.t_inst, item.t_post, item.response_start))
    with residual_hooks(model, slots, on_capture, stop_after_deepest=False):
        for start in range(0, len(encodings), batch_size):
            batch = collate(encodings[start : start + batch_size], pad)
            mask = response_window(batch.response_mask, first_k).bool()
            model(input_ids=batch.input_ids.to(device),
                  attention_mask=batch.attention_mask.to(device), use_cache=False)
    return {slot: torch.cat(values) for slot, values in found.items()}


def quantile_threshold(maxima: Sequence[float], max_fire_rate: float) -> float:
    """The smallest threshold that at most ``max_fire_rate`` of ``maxima`` exceed."""
    values = np.sort([m for m in maxima if not math.isnan(m)])
    if values.size == 0:
        raise HarcError("no harmless validation generation to calibrate the guard on")
    allowed = math.floor(max_fire_rate * values.size)
    return float(values[values.size - allowed - 1])


def fire_rate(maxima: Sequence[float], threshold: float) -> float:
    return sum(m > threshold for m in maxima if not math.isnan(m)) / max(len(maxima), 1)


@register_method
class GuardMethod:
    name: ClassVar[str] = "harc_guard"
    kind: ClassVar[Literal["inference"]] = "inference"
    config_class: ClassVar[type[GuardConfig]] = GuardConfig

    def run(
        self, loaded: LoadedModel, data: TrainingData, out_dir: str | Path,
        config: GuardConfig, *, progress: bool = True,
    ) -> MethodOutput:
        started = time.perf_counter()
        out = Path(out_dir)
        model, chat = loaded.model, chat_format(loaded)
        ext = data.extraction
        resp = extract_response_directions(model, chat, ext.harmful_answers, ext.refusals,
                                           ext.helpful, first_k=config.response_tokens,
                                           batch_size=config.batch_size, progress=progress)
        direction = resp["harm_resp"]
        slots = [config.layer] if config.layer is not None else middle_slots(
            num_residual_slots(model))

        def cosines(pairs: Sequence[tuple[str, str]]) -> dict[int, torch.Tensor]:
            return answer_token_cosines(model, chat, pairs, direction, slots,
                                        first_k=config.response_tokens,
                                        batch_size=config.batch_size)

        harmful, helpful = cosines(ext.harmful_answers), cosines(ext.helpful)
        auroc = {s: float(roc_auc_score(
            np.r_[np.ones(len(harmful[s])), np.zeros(len(helpful[s]))],
            np.r_[harmful[s].numpy(), helpful[s].numpy()])) for s in slots}
        slot = max(slots, key=lambda s: (auroc[s], -s))
        token_means = {"harmful_answer": float(harmful[slot].mean()),
                       "helpful_answer": float(helpful[slot].mean())}
        midpoint = sum(token_means.values()) / 2
        guard = GuardDefence(model, loaded.tokenizer, chat=chat, slot=slot,
                             direction=direction[slot], threshold=math.inf)
        n = config.calibration_prompts
        maxima = {name: guard.generation_maxima(prompts[:n], batch_size=config.batch_size,
                                                max_new_tokens=config.calibration_new_tokens)
                  for name, prompts in (("harmless", data.validation_harmless),
                                        ("harmful", data.validation_harmful))}
        quantile = quantile_threshold(maxima["harmless"], config.max_fire_rate)
        threshold = {"quantile": quantile, "midpoint": midpoint,
                     "stricter": max(quantile, midpoint)}[config.threshold_rule]
        report = {
            "slot": slot, "auroc_per_slot": {str(s): a for s, a in auroc.items()},
            "token_cos_means": token_means, "midpoint": midpoint, "quantile": quantile,
            "threshold_rule": config.threshold_rule, "threshold": threshold,
            "validation_fire_rate": {k: fire_rate(v, threshold) for k, v in maxima.items()},
            "validation_generations": {k: len(v) for k, v in maxima.items()},
            "refusal": REFUSAL, "config": config.model_dump(),
        }
        guard.threshold, guard.report = threshold, report
        output = MethodOutput(method=self.name, kind="wrapper", out_dir=out,
                              wrapper=lambda target: load_defence(out, target),
                              seconds=time.perf_counter() - started, extra=report)
        return save_wrapper_output(output, guard)
