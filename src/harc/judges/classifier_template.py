"""Raw-template classifier (the HarmBench-classifier kind), driven in the format it was trained on.

The user names a template FILE (harc ships no other project's prompt text) with ``{behavior}``
and ``{generation}`` placeholders and optionally ``{context}``; see :mod:`harc.judges.templates`
for the placeholder and brace rule. Each response is first cut to ``max_response_tokens``
(default 512) tokens of the CLASSIFIER's tokenizer, the template is filled, and the filled text
is tokenized as is (no chat template; the tokenizer's own special tokens such as BOS are added
unless ``add_special_tokens=False``). The verdict is read from the next-token distribution:
``score = p(yes) / (p(yes) + p(no))`` over the first token of each answer word,
``harmful = score > threshold``; ``refused`` is None.

Empty responses are sent to the classifier like any other, never skipped or assumed safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harc.errors import HarcError
from harc.judges.base import Verdict, check_lengths, register_judge
from harc.judges.classifier_common import (
    TwoWayClassifier,
    prompt_template_file,
    truncate_response,
)
from harc.judges.templates import PromptTemplate

DEFAULT_MAX_RESPONSE_TOKENS = 512


@register_judge("template_classifier")
class TemplateClassifierJudge(TwoWayClassifier):
    """First-token yes/no probability of a classifier prompted with a raw template file.

    ``answer_words``: (harmful word, harmless word), default ("Yes", "No"); their first tokens
    must differ. ``answer_prefix``: text appended after the filled template before the answer
    is read (default none). ``judge(..., contexts=)`` fills ``{context}``; a template with
    ``{context}`` needs contexts, and contexts given to a template without it are an error.
    ``template_path`` is required; it and ``threshold``, ``batch_size``, ``model_name`` go to
    :class:`~harc.judges.classifier_common.TwoWayClassifier` with the answer keywords.
    """

    name = "template_classifier"
    measures = "harm"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        answer_words: Sequence[str] = ("Yes", "No"),
        max_response_tokens: int | None = DEFAULT_MAX_RESPONSE_TOKENS,
        add_special_tokens: bool = True,
        **shared: Any,
    ) -> None:
        super().__init__(
            model,
            tokenizer,
            answer_words=answer_words,
            max_response_tokens=max_response_tokens,
            **shared,
        )
        self.add_special_tokens = add_special_tokens

    def _load_template(self, path: str | None) -> PromptTemplate:
        return prompt_template_file(self.name, path)

    @property
    def uses_context(self) -> bool:
        return "context" in self.template.fields

    def format(self, prompt: str, response: str, context: str | None = None) -> str:
        """The exact text fed to the classifier for one item (response truncated first)."""
        values = {
            "behavior": prompt,
            "generation": truncate_response(self.tokenizer, response, self.max_response_tokens),
        }
        if self.uses_context:
            if context is None:
                raise HarcError(
                    f"template {self.template.path} uses {{context}} but no context was given"
                )
            values["context"] = context
        return self.template.fill(values) + self.answer_prefix

    def encode(self, prompt: str, response: str, context: str | None = None) -> list[int]:
        text = self.format(prompt, response, context)
        ids = self.tokenizer(text, add_special_tokens=self.add_special_tokens)["input_ids"]
        return [int(token) for token in ids]

    def judge(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        contexts: Sequence[str | None] | None = None,
    ) -> list[Verdict]:
        check_lengths(prompts, responses)
        if contexts is None:
            contexts = [None] * len(prompts)
        elif len(contexts) != len(prompts):
            raise HarcError(f"{len(prompts)} prompts but {len(contexts)} contexts")
        elif not self.uses_context and any(contexts):
            raise HarcError(
                f"contexts were given but template {self.template.path} has no {{context}}"
            )
        if not prompts:
            return []
        rows = [self.encode(p, r, c) for p, r, c in zip(prompts, responses, contexts, strict=True)]
        return self._score(rows)

    def describe(self) -> dict[str, Any]:
        return {**self._describe("raw"), "add_special_tokens": self.add_special_tokens}
