"""Where HARC's training answers come from: the user's files first, then the model itself.

:func:`file_answers` reads a Circuit-Breakers-style file (refusal and harmful answer per prompt)
and a pairs file (kinds refusal, harmful, helpful, compliant); the first answer given for a
prompt wins. :class:`AnswerResolver` takes those, asks an
:class:`~harc.training.supply.AnswerSupplier` for the rest when self-supply is on, and counts
every answer by its provenance.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from harc.data import load_circuit_breakers, load_pairs
from harc.errors import DataError
from harc.training.config import DataSettings

if TYPE_CHECKING:
    from harc.training.supply import AnswerSupplier

logger = logging.getLogger(__name__)

Answer = tuple[str, str]  # (text, provenance)


def file_answers(settings: DataSettings, counts: dict[str, int]) -> dict[str, dict[str, Answer]]:
    """Answers given in ``data.circuit_breakers`` and ``data.pairs``, by kind, then prompt."""
    answers: dict[str, dict[str, Answer]] = {
        k: {} for k in ("refusal", "harmful", "helpful", "compliant")
    }
    if settings.circuit_breakers:
        records = load_circuit_breakers(settings.circuit_breakers)
        counts["circuit_breakers_records"] = len(records)
        for record in records:
            prompt = record.prompt.strip()
            if record.refusal:
                answers["refusal"].setdefault(prompt, (record.refusal, "circuit_breakers"))
            if record.output:
                answers["harmful"].setdefault(prompt, (record.output, "circuit_breakers"))
    if settings.pairs:
        pairs = load_pairs(settings.pairs)
        counts["pairs_records"] = len(pairs)
        for pair in pairs:
            answers[pair.kind].setdefault(pair.prompt.strip(), (pair.response, "pairs"))
    return answers


class AnswerResolver:
    """Fills answers missing from the files with the supplier, or says which set lacks them."""

    def __init__(
        self, settings: DataSettings, supplier: AnswerSupplier | None, counts: dict[str, int]
    ) -> None:
        self.settings = settings
        self.supplier = supplier
        self.counts = counts

    def answers(
        self,
        prompts: list[str],
        known: dict[str, Answer],
        what: str,
        set_name: str,
        *,
        required: bool,
    ) -> dict[str, Answer]:
        found = {p: known[p] for p in prompts if p in known}
        missing = [p for p in prompts if p not in found]
        for _, source in found.values():
            self._count(f"{what}_from_{source}")
        if not missing:
            return found
        if not self.settings.self_supply or self.supplier is None:
            if required or len(missing) == len(prompts):
                spec = getattr(self.settings, set_name)
                reason = (
                    "self_supply is off"
                    if not self.settings.self_supply
                    else "no model was given to self-supply them"
                )
                raise DataError(
                    f"the {set_name} set ({spec}) lacks {what} answers for {len(missing)} of "
                    f"{len(prompts)} prompts (e.g. {missing[0]!r:.80}) and {reason}; give them in "
                    "data.circuit_breakers or data.pairs, or enable data.self_supply"
                )
            self._count(f"{what}_missing", len(missing))
            logger.warning("%d %s prompts have no %s answer", len(missing), set_name, what)
            return found
        supplied = self._supply(missing, what, set_name)
        for prompt in missing:
            if prompt in supplied:
                found[prompt] = (supplied[prompt].response, supplied[prompt].provenance)
                self._count(f"{what}_from_{supplied[prompt].provenance}")
            else:
                self._count(f"{what}_refused_dropped")
        return found

    def _supply(self, prompts: list[str], what: str, set_name: str) -> dict:
        assert self.supplier is not None
        if what == "refusal":
            return self.supplier.refusals(prompts)
        if what == "harmful_answer":
            return self.supplier.harmful_answers(prompts)
        return self.supplier.helpful(prompts, set_name)  # type: ignore[arg-type]

    def _count(self, name: str, n: int = 1) -> None:
        key = name.replace("+", "_")
        self.counts[key] = self.counts.get(key, 0) + n
