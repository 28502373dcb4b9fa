"""Safety SFT baseline: LoRA fine-tuning on refusals for harmful prompts and the helpful /
compliant answers for harmless and pseudo-harmful prompts, with TRL's ``SFTTrainer``.

Examples are tokenized here with :class:`~harc.positions.ChatFormat` (the formatting HARC
trains and evaluates with) and handed to TRL pre-tokenized (``input_ids`` +
``completion_mask``, loss on the answer only). Refusals end with EOS, as in HARC's refusal
CE; helpful answers do not, because self-supplied answers are cut at a token budget and an
EOS there would teach stopping mid-sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from harc.errors import DataError
from harc.methods.base import MethodOutput, saved_adapter_output
from harc.methods.budget import FULL, equal_compute
from harc.methods.registry import register_method
from harc.methods.trl_support import (
    TrlConfig,
    train_and_save,
    trainer_arguments,
    trl_classes,
    trl_scope,
)
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format
from harc.training.data import TrainingData
from harc.training.lora import lora_config


class SftConfig(TrlConfig):
    """HARC_METHOD gives no SFT values: LoRA as the paper's DPO baseline (r=16, alpha=16,
    dropout 0.05), lr 1e-4, one epoch."""

    lr: float = Field(1e-4, gt=0)
    include_harmless: bool = True
    include_pseudo: bool = True

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        FULL: equal_compute("trl"),
        # Embedded 0.5B on 2 CPU cores: 10 steps of 4 rows x <= 128 tokens, a few minutes.
        "cpu": {
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
            "lr": 2e-4,
            "max_steps": 10,
            "batch_size": 4,
            "grad_accum": 1,
            "warmup": 0,  # HF warm-up gives step 1 lr 0: a wasted step on CPU
            "max_length": 128,
        },
    }


def sft_examples(data: TrainingData, config: SftConfig) -> list[tuple[str, str, bool]]:
    """(prompt, answer, append EOS) for every training example."""
    rows = [(ex.prompt, ex.refusal, True) for ex in data.harmful]
    if config.include_harmless:
        rows += [(ex.prompt, ex.answer, False) for ex in data.harmless]
    if config.include_pseudo:
        rows += [(ex.prompt, ex.answer, False) for ex in data.pseudo]
    return rows


def tokenized_rows(
    chat: ChatFormat, examples: list[tuple[str, str, bool]]
) -> list[dict[str, list[int]]]:
    rows = []
    for prompt, answer, eos in examples:
        encoded = chat.encode_pair(prompt, answer, append_eos=eos)
        start = encoded.response_start or 0
        rows.append(
            {
                "input_ids": encoded.input_ids,
                "completion_mask": [0] * start + [1] * (len(encoded.input_ids) - start),
            }
        )
    return rows


@register_method
class SftMethod:
    name: ClassVar[str] = "sft"
    kind: ClassVar[Literal["training"]] = "training"
    config_class: ClassVar[type[SftConfig]] = SftConfig

    def run(
        self,
        loaded: LoadedModel,
        data: TrainingData,
        out_dir: str | Path,
        config: SftConfig,
        *,
        progress: bool = True,
    ) -> MethodOutput:
        from datasets import Dataset

        sft_trainer, sft_args = trl_classes(("SFTTrainer", "SFTConfig"))
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        chat = chat_format(loaded, max_length=config.max_length)
        examples = sft_examples(data, config)
        if not examples:
            raise DataError("SFT has no training examples")
        dataset = Dataset.from_list(tokenized_rows(chat, examples))
        args = trainer_arguments(
            sft_args,
            config,
            out,
            loaded,
            progress,
            completion_only_loss=True,
            dataset_num_proc=None,
        )
        with trl_scope(loaded, progress=progress):
            trainer = sft_trainer(
                model=loaded.model,
                args=args,
                train_dataset=dataset,
                processing_class=loaded.tokenizer,
                peft_config=lora_config(loaded.model, config.lora),
            )
            result = train_and_save(trainer, out, config, model=loaded.name,
                                    progress=progress)
        return saved_adapter_output(
            self.name, loaded, out, result, {
                "examples": len(examples),
                "trainer": "trl.SFTTrainer",
                "config": config.model_dump(),
            },
        )
