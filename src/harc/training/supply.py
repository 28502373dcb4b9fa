"""Self-supplied answers: when a user has only prompts, the model writes the answers.

* refusals (harmful prompts): greedy answers of the model that the refusal judge calls
  refusals; for the rest a short refusal of ours (provenance ``template``, counted).
* helpful / compliant answers (harmless / pseudo-harmful prompts): greedy answers that are
  not refusals; refused ones are dropped and counted.
* harmful answers (harmful prompts): greedy answers with the refusal direction ablated
  (:func:`~harc.training.ablation.directional_ablation`); refused ones are dropped.

The ablation slot is ``settings.supply_ablation_layer``, else an explicit ``ablation_slot``,
else :func:`~harc.directions.selection.choose_refusal_slot`: among the middle slots (25%-75%
of the depth), the one whose v_ref separates the extraction prompts best (AUROC of
cos(h(t_post), v_ref), ties broken by the gap of mean cosines). That AUROC is measured on
the extraction prompts themselves, not on a held-out set: a simple, documented choice.

Every outcome is cached (:mod:`harc.training.supply_cache`), so a rerun generates nothing.
:meth:`AnswerSupplier.write_provenance` writes this run's records to an output directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from harc.activations import capture_prompts
from harc.cache import cache_subdir
from harc.directions import DirectionSet, extract_prompt_directions
from harc.directions.selection import choose_refusal_slot
from harc.errors import HarcError
from harc.generation import GenerationSettings, Generator
from harc.io import sha256_text
from harc.judges import Judge, Verdict, get_judge
from harc.models import identity
from harc.positions import ChatFormat
from harc.training import supply_cache
from harc.training.ablation import direction_digest, directional_ablation
from harc.training.config import DataSettings

logger = logging.getLogger(__name__)

RetainKind = Literal["harmless", "pseudo_harmful"]

REFUSAL_TEMPLATES: tuple[str, ...] = (
    "I'm sorry, but I can't help with that request.",
    "I can't assist with that. It could cause real harm, so I won't provide it.",
    "I'm not able to help with this request. If you have another question, I'm happy to help.",
    "Sorry, but I can't provide that. Is there something else I can help you with?",
    "I won't help with that, because it could be used to hurt people or break the law.",
)


def template_refusal(prompt: str) -> str:
    """One of :data:`REFUSAL_TEMPLATES`, chosen deterministically from the prompt text."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return REFUSAL_TEMPLATES[int.from_bytes(digest[:4], "big") % len(REFUSAL_TEMPLATES)]


@dataclass(frozen=True)
class SuppliedAnswer:
    """A kept answer. ``kind`` is a pair kind (refusal, harmful, helpful, compliant);
    ``provenance`` is ``model``, ``model+ablation`` or ``template``."""

    prompt: str
    response: str
    kind: str
    provenance: str


class AnswerSupplier:
    """Answers written by ``model`` for prompts that have none (see the module docstring).

    ``model_key`` names the weights in every cache key (default ``model_name``;
    :meth:`from_loaded` gives :func:`harc.models.identity.model_key`: name, source, dtype and
    revision, so two models of one name never share answers). ``directions`` (prompt-side) and
    ``activations`` (``harmful_t_post`` / ``harmless_t_post`` over all slots, as returned by
    ``extract_prompt_directions``) are optional: when missing they are computed from the
    prompts given to :meth:`set_extraction`. ``out_dir``: where :data:`PROVENANCE_FILE` is
    rewritten after every call. ``counts`` tallies kept, templated and dropped answers.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        settings: DataSettings,
        model_name: str,
        model_key: str | None = None,
        chat: ChatFormat | None = None,
        directions: DirectionSet | None = None,
        activations: Mapping[str, torch.Tensor] | None = None,
        ablation_slot: int | None = None,
        judge: Judge | None = None,
        cache_dir: Path | None = None,
        generation_cache_dir: Path | None = None,
        out_dir: Path | None = None,
        batch_size: int = 32,  # generation is memory-bound on CPU: wide batches are cheap
        progress: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.model_name = model_name
        self.model_key = model_key or model_name
        self.chat = chat if chat is not None else ChatFormat(tokenizer)
        self.directions = directions
        self._extracted_here = directions is None
        self.activations = dict(activations) if activations is not None else None
        self._slot = settings.supply_ablation_layer if settings.supply_ablation_layer is not None \
            else ablation_slot
        self.judge = judge if judge is not None else get_judge("keyword")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else cache_subdir("supply")
        self.generation_cache_dir = generation_cache_dir
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.batch_size = batch_size
        self.progress = progress
        self.extraction: tuple[list[str], list[str]] | None = None
        self.records: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self._cache = supply_cache.SupplyCache(self.cache_dir, self.model_key)

    @classmethod
    def from_loaded(cls, loaded: Any, settings: DataSettings, **kwargs: Any) -> AnswerSupplier:
        """From a :class:`harc.models.LoadedModel`."""
        return cls(loaded.model, loaded.tokenizer, settings=settings, model_name=loaded.name,
                   model_key=identity.model_key(loaded), **kwargs)

    # -- what data assembly calls ------------------------------------------------------------

    def set_extraction(self, harmful: Sequence[str], harmless: Sequence[str]) -> None:
        """The extraction prompts, used only if directions or activations must be computed."""
        self.extraction = (list(harmful), list(harmless))

    def refusals(self, prompts: Sequence[str]) -> dict[str, SuppliedAnswer]:
        """A refusal for every prompt: the model's own when it refuses, else a template."""
        records = self._supply(prompts, "refusal", self._plain_generator(), "model",
                               self._resolve_refusal)
        return self._kept(records, "refusal")

    def helpful(self, prompts: Sequence[str], kind: RetainKind) -> dict[str, SuppliedAnswer]:
        """Non-refusing answers to harmless (``helpful``) or pseudo-harmful (``compliant``)
        prompts; refused ones are left out."""
        if kind not in ("harmless", "pseudo_harmful"):
            raise HarcError(f"retain kind must be 'harmless' or 'pseudo_harmful', not {kind!r}")
        pair_kind = "helpful" if kind == "harmless" else "compliant"
        records = self._supply(prompts, pair_kind, self._plain_generator(), "model",
                               _keep_non_refusal)
        return self._kept(records, pair_kind)

    def harmful_answers(self, prompts: Sequence[str]) -> dict[str, SuppliedAnswer]:
        """Answers with the refusal direction ablated; those still refusing are left out."""
        records = self._supply(prompts, "harmful", self._ablated_generator(), "model+ablation",
                               _keep_non_refusal)
        return self._kept(records, "harmful")

    def write_provenance(self, out_dir: str | Path) -> Path:
        """Write this run's records (kept and dropped) to ``out_dir / PROVENANCE_FILE``."""
        return supply_cache.write_records(out_dir, self.records)

    # -- ablation ------------------------------------------------------------------------------

    @property
    def ablation_slot(self) -> int:
        if self._slot is None:
            directions = self._directions()
            activations = self._activations()
            self._slot = choose_refusal_slot(
                directions.refusal, activations["harmful_t_post"], activations["harmless_t_post"]
            )
            logger.info("self-supply: ablating the refusal direction at slot %d", self._slot)
        return self._slot

    def ablation_direction(self) -> torch.Tensor:
        directions = self._directions()
        slot = self.ablation_slot
        if not 0 <= slot < directions.num_slots:
            raise HarcError(f"ablation slot {slot} outside 0..{directions.num_slots - 1}")
        return directions.refusal[slot]

    def _directions(self) -> DirectionSet:
        if self.directions is None:
            harmful, harmless = self._extraction_prompts()
            self.directions, found = extract_prompt_directions(
                self.model, self.chat, harmful, harmless, batch_size=self.batch_size,
                progress=self.progress,
            )
            if self.activations is None:
                self.activations = found
        return self.directions

    def _activations(self) -> dict[str, torch.Tensor]:
        if self.activations is None:
            harmful, harmless = self._extraction_prompts()
            self.activations = {
                f"{name}_t_post": capture_prompts(
                    self.model, self.chat, texts, positions=("t_post",),
                    batch_size=self.batch_size, progress=self.progress,
                )["t_post"]
                for name, texts in (("harmful", harmful), ("harmless", harmless))
            }
        return self.activations

    def _extraction_prompts(self) -> tuple[list[str], list[str]]:
        if self.extraction is None or not all(self.extraction):
            raise HarcError("harmful answers need the refusal direction: give the supplier "
                            "directions and an ablation slot, or call set_extraction first")
        return self.extraction

    # -- generation, judging, caching ----------------------------------------------------------

    def _generation_settings(self) -> GenerationSettings:
        return GenerationSettings(max_new_tokens=self.settings.supply_max_new_tokens,
                                  batch_size=self.batch_size)

    def _plain_generator(self) -> tuple[Generator, dict[str, Any]]:
        generator = Generator(self.model, self.tokenizer, chat=self.chat,
                              model_key=self.model_key, cache_dir=self.generation_cache_dir,
                              progress=self.progress)
        return generator, {}

    def _direction_name(self, direction: torch.Tensor) -> str:
        """What names the ablated direction in cache keys. Extracted here: its extraction
        prompts (with the model key, already in every key, they determine it; its bits differ
        between CPUs, so a digest of its values would make answers supplied on one machine
        unusable on another). Given by the caller: a digest of its values."""
        if not self._extracted_here:
            return "sha256:" + direction_digest(direction)
        return "extracted:" + sha256_text(json.dumps(self._extraction_prompts(),
                                                     ensure_ascii=False))[:16]

    def _ablated_generator(self) -> tuple[Generator, dict[str, Any]]:
        direction = self.ablation_direction()
        name = self._direction_name(direction)
        extra = {"ablation_slot": self.ablation_slot, "direction": name}
        generator = Generator(
            self.model, self.tokenizer, chat=self.chat,
            model_key=f"{self.model_key}|ablate-refusal@{self.ablation_slot}:{name}",
            cache_dir=self.generation_cache_dir, progress=self.progress,
            context=lambda: directional_ablation(self.model, direction),
        )
        return generator, extra

    def _supply(
        self,
        prompts: Sequence[str],
        kind: str,
        generator_and_extra: tuple[Generator, dict[str, Any]],
        provenance: str,
        resolve: Callable[[str, str, Verdict], tuple[str, str, bool]],
    ) -> list[dict[str, Any]]:
        generator, extra = generator_and_extra
        unique = list(dict.fromkeys(prompts))
        settings = supply_cache.record_settings(self.settings.supply_max_new_tokens, self.chat,
                                                extra)
        keys = {p: supply_cache.record_key(kind, generator.model_key, self.judge.name, settings, p)
                for p in unique}
        cache = self._cache.load()
        missing = [p for p in unique if keys[p] not in cache]
        if missing:
            responses = generator.generate(missing, self._generation_settings())
            verdicts = self.judge.judge(missing, responses)
            fresh = []
            for prompt, response, verdict in zip(missing, responses, verdicts, strict=True):
                text, source, kept = resolve(prompt, response, verdict)
                fresh.append({
                    "key": keys[prompt], "prompt": prompt, "response": text, "kind": kind,
                    "provenance": source if source else provenance, "kept": kept,
                    "generated": response, "verdict": supply_cache.verdict_dict(verdict),
                    "model": self.model_name, "model_key": generator.model_key,
                    "settings": settings,
                })
            self._cache.append(fresh)
        records = [cache[keys[p]] for p in unique]
        self.records.extend(records)
        if self.out_dir is not None:
            self.write_provenance(self.out_dir)
        return records

    def _kept(self, records: list[dict[str, Any]], kind: str) -> dict[str, SuppliedAnswer]:
        kept = {r["prompt"]: SuppliedAnswer(r["prompt"], r["response"], kind, r["provenance"])
                for r in records if r["kept"]}
        tally: dict[str, int] = {}
        for r in records:
            label = f"{kind}_{r['provenance'].replace('+', '_')}" if r["kept"] \
                else f"{kind}_refused_dropped"
            tally[label] = tally.get(label, 0) + 1
        for label, n in tally.items():
            self.counts[label] = self.counts.get(label, 0) + n
        summary = ", ".join(f"{n} {label}" for label, n in sorted(tally.items()))
        log = logger.warning if any(k.endswith(("dropped", "template")) for k in tally) \
            else logger.info
        log("self-supplied %s answers for %d prompts: %s", kind, len(records), summary)
        return kept

    def _resolve_refusal(
        self, prompt: str, response: str, verdict: Verdict
    ) -> tuple[str, str, bool]:
        if verdict.refused and response.strip():
            return response, "model", True
        return template_refusal(prompt), "template", True


def _keep_non_refusal(_prompt: str, response: str, verdict: Verdict) -> tuple[str, str, bool]:
    return response, "", bool(response.strip()) and verdict.refused is False
