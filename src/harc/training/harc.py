"""The HARC trainer: LoRA via PEFT, one copy of the base weights, resumable, accelerate-ready."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel

from harc.directions.direction_set import DirectionSet
from harc.errors import HarcError, TruncationError
from harc.io import append_jsonl, write_json_atomic
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format
from harc.training.checkpoint import (
    CHECKPOINT_DIR,
    claim_for_resume,
    latest_checkpoint,
    resume_from,
    save_checkpoint,
)
from harc.training.config import HarcConfig
from harc.training.data import TrainingData
from harc.training.distributed import broadcast_tensors
from harc.training.loop import run_steps
from harc.training.lora import lora_config
from harc.training.optimization import LoraOptimization, MicroStep
from harc.training.refresh import ExtractionInputs, extract_all, heldout_projections
from harc.training.rows import draw_step_batch
from harc.training.schedule import blend_directions, drift, select_layers, top_k_at
from harc.training.step import LossSettings, compute_losses, reference_logits_for

logger = logging.getLogger(__name__)

NO_CHECKPOINT = "none (no checkpoint was written yet)"


@dataclass
class TrainResult:
    out_dir: Path
    adapter_dir: Path
    steps: int
    slots: list[int]
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


class HarcTrainer:
    """``HarcTrainer(loaded, config, data, out_dir).run()`` trains and writes the adapter,
    direction files (start and end), ``train_log.jsonl``, ``diag_log.jsonl`` and the config."""

    def __init__(
        self,
        loaded: LoadedModel,
        config: HarcConfig,
        data: TrainingData,
        out_dir: str | Path,
        *,
        chat: ChatFormat | None = None,
        progress: bool = True,
    ) -> None:
        self.loaded, self.config, self.data = loaded, config, data
        self.out_dir = Path(out_dir)
        self.chat = chat or chat_format(loaded, max_length=config.max_length)
        self.progress = progress
        self.harmful_with_answer = [ex for ex in data.harmful if ex.harmful_answer]
        if config.response_coupling_on == "harmful_answer" and not self.harmful_with_answer:
            raise HarcError(
                "response coupling on harmful answers needs harmful answers in the data "
                "(a Circuit-Breakers file, a pairs file, or self-supply)"
            )
        pad = loaded.tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else loaded.tokenizer.eos_token_id)
        self.extraction = ExtractionInputs(
            data.extraction.harmful,
            data.extraction.harmless,
            data.extraction.harmful_answers,
            data.extraction.refusals,
            data.extraction.helpful,
            config.response_tokens,
        )
        self.loss_settings = LossSettings(
            config.margin, config.response_tokens, config.response_coupling_on
        )
        self._check_lengths()

    def _check_lengths(self) -> None:
        """Every training prompt must leave room for its answer within ``max_length``; found
        now, before any training, rather than as a TruncationError at the step that draws it."""
        prompts = {ex.prompt for ex in self.data.harmful}
        prompts |= {ex.prompt for ex in (*self.data.harmless, *self.data.pseudo)}
        too_long = []
        for prompt in prompts:
            try:
                length = len(self.chat.encode(prompt).input_ids)
            except TruncationError:
                length = self.config.max_length + 1
            if length >= self.config.max_length:
                too_long.append((length, prompt))
        if too_long:
            length, prompt = max(too_long)
            raise HarcError(
                f"{len(too_long)} of {len(prompts)} training prompts leave no room for an answer "
                f"within max_length={self.config.max_length} (the longest has {length}+ tokens: "
                f"{prompt[:60]!r}); raise max_length or drop them from the data")

    def run(self, resume: bool = False) -> TrainResult:
        """Train; under a multi-process launch every rank runs this, on its own rows, and only
        the main process writes (logs, directions, checkpoints, the adapter)."""
        started = time.perf_counter()
        config, out = self.config, self.out_dir
        torch.manual_seed(config.seed)
        opt = LoraOptimization(
            self.loaded, lora_config(self.loaded.model, config.lora), lr=config.lr,
            weight_decay=config.weight_decay, warmup_steps=config.warmup_steps,
            mixed_precision=config.mixed_precision)
        accelerator, peft_model = opt.accelerator, opt.model
        self.accelerator = accelerator
        main = accelerator.is_main_process
        if main:
            out.mkdir(parents=True, exist_ok=True)
            peft_model.print_trainable_parameters()
        checkpoint = latest_checkpoint(out) if resume else None
        # max_steps is not a setting of the steps (no schedule depends on it): raising it and
        # resuming extends a run.
        claim_for_resume(out, self.loaded.name, config, has_checkpoints=checkpoint is not None,
                         not_settings={"max_steps"})
        timed_from = 0  # the step the reported training time counts from
        if resume and checkpoint is None and main:
            logger.warning("--resume: no checkpoint in %s, starting from step 0", out)
        base_path = out / "directions_start.safetensors"
        if checkpoint is not None:
            restored = resume_from(checkpoint, opt,
                                   [out / "train_log.jsonl", out / "diag_log.jsonl"], "HARC")
            if restored.directions is None:
                raise HarcError(f"{checkpoint}: not a HARC checkpoint (it holds no directions)")
            base, current, slots, start = (
                DirectionSet.load(base_path), restored.directions, restored.slots, restored.step)
            # The time up to the checkpoint carries over (the steps redone after it are timed
            # again); a checkpoint that did not record it leaves the time counting from there.
            if restored.seconds is None:
                timed_from = start
            else:
                started -= restored.seconds
        else:
            if main:  # a fresh run: an earlier run's logs and checkpoints would mix with it
                for name in ("train_log.jsonl", "diag_log.jsonl"):
                    (out / name).unlink(missing_ok=True)
                shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
            base, extras = extract_all(
                peft_model, self.chat, self.extraction, bootstrap=200, progress=self.progress
            )
            self._same_on_every_rank(base)
            base.metadata.update({"model": self.loaded.name, "stage": "start"})
            if main:
                base.save(base_path)
            current, start = base, 0
            slots = select_layers(
                base,
                top_k_at(0, config.top_k, config.top_k_late, config.top_k_ramp_step),
                config.exclude_first,
                config.exclude_last,
            )
            self._diagnostics(peft_model, 0, base, base, slots, extras)
        if main:
            config.to_yaml(out / "config.yaml")

        state: dict[str, Any] = {"current": current, "slots": slots, "checkpoint": checkpoint}

        def micro_step_for(step: int) -> MicroStep:
            wanted_k = top_k_at(step, config.top_k, config.top_k_late, config.top_k_ramp_step)
            if len(state["slots"]) != wanted_k:
                state["slots"] = select_layers(state["current"], wanted_k, config.exclude_first,
                                               config.exclude_last)
            return self._micro_step(opt, step, state["current"], state["slots"])

        def after_step(step: int) -> None:
            if config.refresh_every and step % config.refresh_every == 0 and (
                    step < config.max_steps):
                fresh, extras = extract_all(peft_model, self.chat, self.extraction, bootstrap=200)
                self._same_on_every_rank(fresh)
                state["current"] = blend_directions(base, fresh, config.base_blend)
                state["slots"] = select_layers(state["current"], len(state["slots"]),
                                               config.exclude_first, config.exclude_last)
                self._diagnostics(peft_model, step, base, state["current"], state["slots"],
                                  extras)
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                state["checkpoint"] = save_checkpoint(
                    out, step, peft_model, opt.optimizer, opt.scheduler, state["current"],
                    state["slots"], accelerator=accelerator,
                    seconds=time.perf_counter() - started,
                )

        run_steps(
            opt, micro_step_for, start=start, max_steps=config.max_steps,
            grad_accum=config.grad_accum, log_path=out / "train_log.jsonl", desc="HARC",
            progress=self.progress, log_fields=lambda _step: {"slots": state["slots"]},
            after_step=after_step,
            diverged_hint=lambda: (
                f"Last good checkpoint: {state['checkpoint'] or NO_CHECKPOINT}. Lower the lr or "
                "check the data."),
        )
        current, slots = state["current"], state["slots"]
        return self._finish(peft_model, base, current, slots, started, timed_from)

    def _same_on_every_rank(self, directions: DirectionSet) -> None:
        """Every rank extracted from the same weights; take the main process's values so
        tiny numeric differences between devices cannot pick different slots per rank."""
        broadcast_tensors(self.accelerator, [
            directions.harm, directions.refusal, directions.harm_resp, directions.refusal_resp])

    def _micro_step(
        self, opt: LoraOptimization, step: int, directions: DirectionSet, slots: list[int],
    ) -> MicroStep:
        weights = self.config.weights.model_dump()
        accelerator = opt.accelerator

        def micro_step(micro: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            step_batch = self._sample(step, micro, accelerator.process_index)
            step_batch.batch = step_batch.batch.to(accelerator.device)
            reference = reference_logits_for(opt.model, step_batch)
            terms = compute_losses(opt.model, step_batch, directions, slots, self.loss_settings,
                                   reference_logits=reference)
            loss = sum(weights[name] * value for name, value in terms.items())
            return loss, terms

        return micro_step

    def _sample(self, step: int, micro: int, process: int):
        return draw_step_batch(self.chat, self.config, self.data, self.harmful_with_answer,
                               self.pad_token_id, step=step, micro=micro, process=process)

    def _diagnostics(
        self,
        model: PeftModel,
        step: int,
        base: DirectionSet,
        current: DirectionSet,
        slots: list[int],
        extras: dict[str, Any],
    ) -> None:
        record: dict[str, Any] = {
            "step": step,
            "slots": slots,
            "drift": drift(base, current, slots),
        }
        record.update(extras)
        if not self.accelerator.is_main_process:
            return
        if self.data.validation_harmful and self.data.validation_harmless:
            record["heldout"] = heldout_projections(
                model,
                self.chat,
                current,
                slots,
                self.data.validation_harmful,
                self.data.validation_harmless,
            )
        append_jsonl(self.out_dir / "diag_log.jsonl", record)

    def _finish(
        self,
        model: PeftModel,
        base: DirectionSet,
        current: DirectionSet,
        slots: list[int],
        started: float,
        timed_from: int,
    ) -> TrainResult:
        out = self.out_dir
        end, extras = extract_all(model, self.chat, self.extraction, bootstrap=200)
        self._same_on_every_rank(end)
        end.metadata.update({"model": self.loaded.name, "stage": "end"})
        main = self.accelerator.is_main_process
        files = {
            "directions_start": out / "directions_start.safetensors",
            "directions_end": out / "directions_end.safetensors",
            "train_log": out / "train_log.jsonl",
            "diag_log": out / "diag_log.jsonl",
            "config": out / "config.yaml",
        }
        self._diagnostics(
            model, self.config.max_steps, base, current, slots, {**extras, "final": True}
        )
        adapter_dir = out / "adapter"
        seconds = time.perf_counter() - started
        if main:
            end.save(out / "directions_end")
            model.save_pretrained(adapter_dir)
            write_json_atomic(
                out / "train_summary.json",
                {
                    "steps": self.config.max_steps,
                    "slots": slots,
                    "seconds": seconds,
                    "seconds_from_step": timed_from,
                    "model": self.loaded.name,
                    "processes": self.accelerator.num_processes,
                    "data_counts": self.data.counts,
                },
            )
        self.accelerator.wait_for_everyone()  # the adapter exists for every rank on return
        return TrainResult(out, adapter_dir, self.config.max_steps, slots, seconds, files)

