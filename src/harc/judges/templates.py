"""Prompt-template files for classifier judges: loading, digests, placeholder checks, filling.

harc ships no other project's prompt text; the user names a template file. Placeholder rule:

* a placeholder is a Python identifier in single braces, ``{behavior}``;
* only the names a judge declares are allowed (``behavior``, ``generation`` and optionally
  ``context``); any other ``{identifier}`` is an error, since it would otherwise reach the model
  unfilled;
* ``{{identifier}}`` is an escape and renders as the literal ``{identifier}``;
* every other brace is literal text and is left alone (``{}``, ``{0}``, ``{"key": 1}``, a lone
  ``{``), so templates need no brace doubling (unlike ``str.format``);
* filling is one pass over the template, so a behavior or generation that itself contains
  ``{generation}`` is never expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from harc.errors import HarcError
from harc.io import sha256_text

_FIELD = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)\}")


class TemplateError(HarcError):
    """A template file is missing, unreadable, or has missing or unknown placeholders."""


def placeholders(template: str) -> set[str]:
    """Names of the (unescaped) ``{identifier}`` placeholders in ``template``."""
    return {match.group(2) for match in _FIELD.finditer(template) if match.group(2)}


@dataclass(frozen=True)
class PromptTemplate:
    """A template's text, where it came from, and its sha256 digest."""

    text: str
    path: str
    sha256: str

    @property
    def fields(self) -> set[str]:
        return placeholders(self.text)

    def fill(self, values: Mapping[str, str]) -> str:
        """The template with each placeholder replaced by ``values[name]``, in one pass."""

        def replace(match: re.Match[str]) -> str:
            if match.group(1) is not None:
                return "{" + match.group(1) + "}"
            name = match.group(2)
            if name not in values:
                raise TemplateError(f"template {self.path}: no value for placeholder {{{name}}}")
            return values[name]

        return _FIELD.sub(replace, self.text)


def read_text_file(path: str | Path, what: str) -> str:
    """The UTF-8 text of ``path``; a one-line TemplateError when missing, unreadable or empty."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(f"{what} {path} cannot be read: {error}") from None
    if not text.strip():
        raise TemplateError(f"{what} {path} is empty")
    return text


def load_prompt_template(
    path: str | Path,
    *,
    required: Collection[str] = ("behavior", "generation"),
    optional: Collection[str] = ("context",),
) -> PromptTemplate:
    """Read a prompt-template file and check its placeholders against the rule above."""
    text = read_text_file(path, "template")
    found = placeholders(text)
    for name in required:
        if name not in found:
            raise TemplateError(f"template {path} lacks the {{{name}}} placeholder")
    unknown = sorted(found - set(required) - set(optional))
    if unknown:
        allowed = ", ".join(f"{{{name}}}" for name in (*required, *optional))
        raise TemplateError(
            f"template {path} has unknown placeholder {{{unknown[0]}}} (allowed: {allowed}; "
            f"write {{{{{unknown[0]}}}}} for a literal {{{unknown[0]}}})"
        )
    return PromptTemplate(text=text, path=str(path), sha256=sha256_text(text))


TOKENIZER_CHAT_TEMPLATE = "tokenizer chat template"


def load_chat_template(tokenizer: object, path: str | Path | None) -> PromptTemplate:
    """The Jinja chat template in ``path``, else the tokenizer's own (``path`` then reads
    "tokenizer chat template"); a one-line TemplateError when there is neither."""
    if path is not None:
        text = read_text_file(path, "chat template")
        return PromptTemplate(text=text, path=str(path), sha256=sha256_text(text))
    text = getattr(tokenizer, "chat_template", None)
    if isinstance(text, dict):  # named templates: the default one
        text = text.get("default")
    if not isinstance(text, str) or not text.strip():
        raise TemplateError(
            f"{type(tokenizer).__name__} has no chat template; pass template_path= a Jinja "
            "chat-template file"
        )
    return PromptTemplate(text=text, path=TOKENIZER_CHAT_TEMPLATE, sha256=sha256_text(text))
