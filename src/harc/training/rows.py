"""The rows of one HARC micro-batch: seeded draws from the training pools, built into a batch."""

from __future__ import annotations

from typing import Any

from harc.positions import ChatFormat
from harc.training.config import HarcConfig
from harc.training.data import HarmfulExample, TrainingData
from harc.training.sampling import draw
from harc.training.step import StepBatch, build_step_batch

_POOL_HARMFUL, _POOL_HARMFUL_ANSWER, _POOL_HARMLESS, _POOL_PSEUDO = range(4)


def draw_step_batch(
    chat: ChatFormat,
    config: HarcConfig,
    data: TrainingData,
    harmful_with_answer: list[HarmfulExample],
    pad_token_id: int,
    *,
    step: int,
    micro: int,
    process: int,
) -> StepBatch:
    """The step batch of (step, micro-batch, process): refusals to harmful prompts, harmful
    answers when response coupling is on them, and retain answers (harmless, pseudo-harmful)."""

    def pick(pool_id: int, pool: list[Any], count: int) -> list[Any]:
        return draw(
            pool,
            count,
            seed=config.seed,
            step=step,
            micro=micro,
            pool_id=pool_id,
            process=process,
        )

    harmful = pick(_POOL_HARMFUL, data.harmful, config.batch_harmful)
    answers = []
    if config.response_coupling_on == "harmful_answer":
        answers = [
            (ex.prompt, ex.harmful_answer)
            for ex in pick(_POOL_HARMFUL_ANSWER, harmful_with_answer, config.batch_harmful)
        ]
    retain = pick(_POOL_HARMLESS, data.harmless, config.batch_harmless)
    retain += pick(_POOL_PSEUDO, data.pseudo, config.batch_pseudo)
    return build_step_batch(
        chat,
        [(ex.prompt, ex.refusal) for ex in harmful],
        answers,
        [(ex.prompt, ex.answer) for ex in retain],
        pad_token_id,
    )
