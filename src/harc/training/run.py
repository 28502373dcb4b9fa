"""``train_harc``: data assembly (with self-supplied answers) + the trainer, in one call."""

from __future__ import annotations

from pathlib import Path

from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format
from harc.training.config import HarcConfig
from harc.training.data import load_training_data, write_training_answers
from harc.training.distributed import process_state
from harc.training.harc import HarcTrainer, TrainResult
from harc.training.lora import adapter_scope
from harc.training.supply import AnswerSupplier


def train_harc(
    loaded: LoadedModel,
    config: HarcConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    chat: ChatFormat | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train HARC on ``loaded`` and write everything to ``out_dir`` (see :class:`HarcTrainer`).

    ``loaded.model`` is left as it was (LoRA layers removed, eval mode), so the same object
    can be evaluated as the base model afterwards; load the adapter from the result."""
    out = Path(out_dir)
    chat = chat or chat_format(loaded, max_length=config.max_length)
    state = process_state(loaded)
    main = state.is_main_process
    supplier = None
    # Under several processes the main process generates the missing answers (into the
    # answer cache) and the other ranks then read them from the cache: generated once.
    with state.main_process_first():
        if config.data.self_supply:
            supplier = AnswerSupplier.from_loaded(
                loaded, config.data, chat=chat, out_dir=out if main else None,
                progress=progress and main,
            )
        data = load_training_data(config.data, supplier=supplier, seed=config.seed)
    if main:
        write_training_answers(data, out)
        if supplier is not None:
            supplier.write_provenance(out)
    with adapter_scope(loaded):
        return HarcTrainer(loaded, config, data, out, chat=chat, progress=progress).run(
            resume=resume)
