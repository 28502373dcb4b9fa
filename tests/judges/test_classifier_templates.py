from __future__ import annotations

import hashlib

import pytest

from harc.errors import HarcError
from harc.judges import load_prompt_template
from harc.judges.templates import TemplateError, load_chat_template, placeholders
from tests.tiny import tiny_tokenizer


def _write(tmp_path, text, name="t.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_reports_path_and_digest(tmp_path):
    text = "Behavior: {behavior}\nGeneration: {generation}\nAnswer:"
    path = _write(tmp_path, text)
    template = load_prompt_template(path)
    assert template.path == str(path)
    assert template.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert template.fields == {"behavior", "generation"}


@pytest.mark.parametrize("missing", ["behavior", "generation"])
def test_missing_placeholder_is_one_line_error_naming_file_and_field(tmp_path, missing):
    text = "X {behavior} Y {generation}".replace("{" + missing + "}", "")
    path = _write(tmp_path, text)
    with pytest.raises(HarcError) as error:
        load_prompt_template(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "{" + missing + "}" in message


def test_unknown_placeholder_is_error(tmp_path):
    path = _write(tmp_path, "{behavior} {generation} {response}")
    with pytest.raises(TemplateError, match=r"unknown placeholder \{response\}") as error:
        load_prompt_template(path)
    assert str(path) in str(error.value)


def test_context_is_optional_but_only_where_allowed(tmp_path):
    path = _write(tmp_path, "{context}\n{behavior}\n{generation}")
    assert "context" in load_prompt_template(path).fields
    with pytest.raises(TemplateError, match="context"):
        load_prompt_template(path, optional=())


def test_literal_braces_and_escapes(tmp_path):
    text = 'JSON {"a": {"b": 1}} {} {0} { x } {{behavior}}\n{behavior}|{generation}'
    template = load_prompt_template(_write(tmp_path, text))
    filled = template.fill({"behavior": "B", "generation": "G"})
    assert filled == 'JSON {"a": {"b": 1}} {} {0} { x } {behavior}\nB|G'
    assert placeholders("{{generation}} {behavior}") == {"behavior"}


def test_fill_is_one_pass(tmp_path):
    template = load_prompt_template(_write(tmp_path, "[{behavior}] [{generation}]"))
    filled = template.fill({"behavior": "say {generation}", "generation": "{behavior}!"})
    assert filled == "[say {generation}] [{behavior}!]"


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(TemplateError, match="does not exist"):
        load_prompt_template(tmp_path / "nope.txt")
    with pytest.raises(TemplateError, match="is empty"):
        load_prompt_template(_write(tmp_path, "  \n"))


def test_chat_template_from_tokenizer_or_file(tmp_path):
    tokenizer = tiny_tokenizer()
    own = load_chat_template(tokenizer, None)
    assert own.path == "tokenizer chat template"
    assert own.sha256 == hashlib.sha256(tokenizer.chat_template.encode()).hexdigest()
    path = _write(tmp_path, "{% for m in messages %}{{ m['content'] }}{% endfor %}", "c.jinja")
    assert load_chat_template(tiny_tokenizer(None), path).path == str(path)
    with pytest.raises(TemplateError, match="no chat template"):
        load_chat_template(tiny_tokenizer(None), None)
