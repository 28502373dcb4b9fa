"""DPO baseline with TRL's ``DPOTrainer`` and a LoRA adapter (paper values: r=16, alpha=16,
dropout 0.05, lr 5e-5, beta 0.1, one epoch over up to 3000 pairs).

Pairs come from :mod:`harc.methods.preferences`: our training data, or ``pairs_file``.
Reference model: given a plain model plus ``peft_config`` and no ``ref_model``, TRL wraps
the model with PEFT and computes the reference log-probs with the adapter disabled
(``use_adapter(model, None)`` -> ``disable_adapter``): the model as it was before this
run, with no second copy (checked in the tests: rewards are exactly 0 at the first step).
TRL tokenizes the plain-text prompts itself and appends EOS to both answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from harc.methods.base import MethodOutput, saved_adapter_output
from harc.methods.budget import FULL, equal_compute
from harc.methods.preferences import (
    PreferencePair,
    pairs_from_data,
    read_pair_file,
    sample_pairs,
    trainer_rows,
)
from harc.methods.registry import register_method
from harc.methods.trl_support import (
    TrlConfig,
    TrlResult,
    train_and_save,
    trainer_arguments,
    trl_classes,
    trl_scope,
)
from harc.models.loading import LoadedModel
from harc.positions import chat_format
from harc.training.data import TrainingData
from harc.training.lora import lora_config


class DpoConfig(TrlConfig):
    beta: float = Field(0.1, gt=0)
    max_pairs: int | None = Field(3000, gt=0)
    pairs_file: str | None = None  # {prompt, chosen, rejected} file; replaces the data's pairs
    include_pseudo: bool = True
    # The reference is fixed, so its log-probs are computed once per pair before training
    # (TRL's precompute_ref_log_probs) instead of at every step: compare-full's equal-compute
    # budget visits each of its 142 pairs about 8 times, so this saves 7 of 8 reference passes.
    precompute_ref: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        FULL: equal_compute("trl"),
        # Embedded 0.5B on 2 CPU cores: 8 steps of 2 pairs (4 sequences + the reference pass).
        "cpu": {
            "lora": {"r": 8, "alpha": 8, "dropout": 0.05},
            "lr": 1e-4,
            "max_steps": 8,
            "batch_size": 2,
            "grad_accum": 1,
            "warmup": 0,  # HF warm-up gives step 1 lr 0: a wasted step on CPU
            "max_length": 128,
        },
    }


def dpo_pairs(data: TrainingData, config: DpoConfig) -> list[PreferencePair]:
    pairs = (
        read_pair_file(config.pairs_file)
        if config.pairs_file is not None
        else pairs_from_data(data, include_pseudo=config.include_pseudo)
    )
    return sample_pairs(pairs, config.max_pairs, config.seed)


def train_dpo(
    loaded: LoadedModel,
    pairs: Sequence[PreferencePair],
    out_dir: Path,
    config: DpoConfig,
    *,
    model_name: str | None = None,
    progress: bool = True,
) -> TrlResult:
    """DPO on ``loaded.model`` as it is now (that is also the reference). ``model_name`` says
    what that model is, for the resume check (default ``loaded.name``)."""
    from datasets import Dataset

    dpo_trainer, dpo_args = trl_classes(("DPOTrainer", "DPOConfig"))
    out_dir.mkdir(parents=True, exist_ok=True)
    chat = chat_format(loaded)
    dataset = Dataset.from_list(trainer_rows(chat, pairs))
    args = trainer_arguments(
        dpo_args, config, out_dir, loaded, progress, beta=config.beta, dataset_num_proc=None,
        precompute_ref_log_probs=config.precompute_ref,
    )
    with trl_scope(loaded, progress=progress):
        trainer = dpo_trainer(
            model=loaded.model,
            args=args,
            train_dataset=dataset,
            processing_class=loaded.tokenizer,
            peft_config=lora_config(loaded.model, config.lora),
        )
        return train_and_save(trainer, out_dir, config, model=model_name or loaded.name,
                              progress=progress)


@register_method
class DpoMethod:
    name: ClassVar[str] = "dpo"
    kind: ClassVar[Literal["training"]] = "training"
    config_class: ClassVar[type[DpoConfig]] = DpoConfig

    def run(
        self,
        loaded: LoadedModel,
        data: TrainingData,
        out_dir: str | Path,
        config: DpoConfig,
        *,
        progress: bool = True,
    ) -> MethodOutput:
        out = Path(out_dir)
        pairs = dpo_pairs(data, config)
        result = train_dpo(loaded, pairs, out, config, progress=progress)
        return saved_adapter_output(
            self.name, loaded, out, result, {
                "pairs": len(pairs),
                "pair_sources": _sources(pairs),
                "trainer": "trl.DPOTrainer",
                "config": config.model_dump(),
            },
        )


def _sources(pairs: Sequence[PreferencePair]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.source] = counts.get(pair.source, 0) + 1
    return counts
