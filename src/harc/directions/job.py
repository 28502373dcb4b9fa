"""One call from a model and prompt sets to saved directions, statistics and a plot."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass

import harc
from harc.data import load_pairs, load_prompts
from harc.directions.direction_set import DirectionSet
from harc.directions.extraction import (
    degenerate_slots,
    extract_prompt_directions,
    extract_response_directions,
)
from harc.directions.statistics import (
    CosineInterval,
    SeparationStats,
    bootstrap_prompt_cosine,
    separation,
)
from harc.errors import DataError
from harc.io import write_json_atomic
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat, chat_format


@pydantic_dataclass(config=ConfigDict(extra="forbid"))
class DirectionJobConfig:
    """Inputs of a direction extraction. Prompt sets are ``load_prompts`` specs."""

    harmful: str = "builtin:harmful:train"
    harmless: str = "builtin:harmless:train"
    heldout_harmful: str | None = "builtin:harmful:heldout"
    heldout_harmless: str | None = "builtin:harmless:heldout"
    responses: str | None = None  # pairs file with kinds harmful / refusal / helpful
    max_prompts: int | None = 300  # per set, as in the paper
    batch_size: int = 8
    bootstrap_resamples: int = 200
    response_tokens: int = 32
    seed: int = 0


@dataclass
class DirectionJobResult:
    directions: DirectionSet
    cosine: CosineInterval
    heldout_harm: SeparationStats | None
    heldout_refusal: SeparationStats | None
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def rows(self) -> list[dict[str, Any]]:
        """One row per residual slot: cosine with interval, norms, held-out AUROCs."""
        rows = []
        interval = self.cosine.as_dict()
        for slot in range(self.directions.num_slots):
            row: dict[str, Any] = {
                "slot": slot,
                "cos": interval["estimate"][slot],
                "cos_low": interval["low"][slot],
                "cos_high": interval["high"][slot],
            }
            if self.directions.harm_norm is not None and self.directions.refusal_norm is not None:
                row["harm_norm"] = float(self.directions.harm_norm[slot])
                row["refusal_norm"] = float(self.directions.refusal_norm[slot])
            if self.heldout_harm is not None:
                row["auroc_harm"] = float(self.heldout_harm.auroc[slot])
            if self.heldout_refusal is not None:
                row["auroc_refusal"] = float(self.heldout_refusal.auroc[slot])
            rows.append(row)
        return rows


def run_direction_job(
    loaded: LoadedModel,
    config: DirectionJobConfig,
    out_dir: str | Path,
    *,
    chat: ChatFormat | None = None,
    progress: bool = True,
    plot: bool = True,
) -> DirectionJobResult:
    """Extract prompt-side (and, with a pairs file, response-side) directions.

    Writes ``directions.safetensors`` + ``.json``, ``direction_stats.json`` and
    ``direction_cosine.png`` to ``out_dir``.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    chat = chat or chat_format(loaded)
    harmful = _texts(config.harmful, config.max_prompts)
    harmless = _texts(config.harmless, config.max_prompts)
    directions, acts = extract_prompt_directions(
        loaded.model, chat, harmful, harmless, batch_size=config.batch_size, progress=progress
    )
    cosine = bootstrap_prompt_cosine(
        acts["harmful_t_inst"],
        acts["harmful_t_post"],
        acts["harmless_t_inst"],
        acts["harmless_t_post"],
        resamples=config.bootstrap_resamples,
        seed=config.seed,
    )
    heldout_harm = heldout_refusal = None
    if config.heldout_harmful and config.heldout_harmless:
        from harc.activations import capture_prompts

        held_harmful = capture_prompts(
            loaded.model,
            chat,
            _texts(config.heldout_harmful, None),
            batch_size=config.batch_size,
            progress=progress,
        )
        held_harmless = capture_prompts(
            loaded.model,
            chat,
            _texts(config.heldout_harmless, None),
            batch_size=config.batch_size,
            progress=progress,
        )
        heldout_harm = separation(held_harmful["t_inst"], held_harmless["t_inst"], directions.harm)
        heldout_refusal = separation(
            held_harmful["t_post"], held_harmless["t_post"], directions.refusal
        )
    if config.responses:
        directions = directions.with_response(_response_directions(loaded, chat, config, progress))
    directions.metadata.update(
        {
            "model": loaded.name,
            "model_source": loaded.source,
            "positions": {
                "harm": "t_inst",
                "refusal": "t_post",
                "response": f"mean of first {config.response_tokens} response tokens",
            },
            "template_tokens_after_inst": chat.template_tokens_after_inst,
            "datasets": {
                "harmful": {"spec": config.harmful, "n": len(harmful)},
                "harmless": {"spec": config.harmless, "n": len(harmless)},
                "responses": config.responses,
            },
            "degenerate_slots": {
                "harm": degenerate_slots(directions.harm_norm),
                "refusal": degenerate_slots(directions.refusal_norm),
            },
        }
    )
    result = DirectionJobResult(directions, cosine, heldout_harm, heldout_refusal)
    result.files["directions"] = directions.save(out / "directions")
    stats = {
        "harc_version": harc.__version__,
        "config": asdict(config),
        "cosine": cosine.as_dict(),
        "heldout_harm": heldout_harm.as_dict() if heldout_harm else None,
        "heldout_refusal": heldout_refusal.as_dict() if heldout_refusal else None,
        "per_slot": result.rows(),
    }
    result.seconds = time.perf_counter() - started
    stats["seconds"] = result.seconds
    result.files["stats"] = out / "direction_stats.json"
    write_json_atomic(result.files["stats"], stats)
    if plot:
        from harc.directions.plots import plot_direction_cosines

        result.files["plot"] = plot_direction_cosines(
            cosine,
            out / "direction_cosine.png",
            harm_separation=heldout_harm,
            refusal_separation=heldout_refusal,
            title=f"{loaded.name}: cos(v_harm, v_ref) per layer",
        )
    return result


def _texts(spec: str, limit: int | None) -> list[str]:
    texts = [prompt.text for prompt in load_prompts(spec)]
    return texts if limit is None else texts[:limit]


def _response_directions(
    loaded: LoadedModel, chat: ChatFormat, config: DirectionJobConfig, progress: bool
) -> dict[str, Any]:
    assert config.responses is not None
    pairs = load_pairs(config.responses)
    by_kind: dict[str, list[tuple[str, str]]] = {"harmful": [], "refusal": [], "helpful": []}
    for pair in pairs:
        if pair.kind in by_kind:
            by_kind[pair.kind].append((pair.prompt, pair.response))
    missing = [kind for kind, items in by_kind.items() if not items]
    if missing:
        raise DataError(
            f"{config.responses}: no pairs of kind {', '.join(missing)} "
            "(response directions need harmful, refusal and helpful pairs)"
        )
    return extract_response_directions(
        loaded.model,
        chat,
        by_kind["harmful"],
        by_kind["refusal"],
        by_kind["helpful"],
        first_k=config.response_tokens,
        batch_size=config.batch_size,
        progress=progress,
    )
