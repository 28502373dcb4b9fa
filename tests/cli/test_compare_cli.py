"""``harc compare --from-results``: checked before anything loads, passed on as paths."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harc.cli import main
from tests.tiny import tiny_tokenizer


class _Stop(Exception):
    pass


@pytest.mark.parametrize("item", ["cast=missing.json.gz", "base", "harc={record}"])
def test_bad_from_results_is_a_one_line_error(item, tmp_path, capsys):
    record = tmp_path / "base.json.gz"
    record.write_bytes(b"")
    argv = ["compare", "--methods", "base,cast", "--from-results",
            item.format(record=record), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("harc: error: --from-results") and error.count("\n") == 1


def test_from_results_reach_compare(monkeypatch, tmp_path):
    import harc.cli.compare as cli_compare
    import harc.methods.compare as methods_compare

    seen: dict[str, Any] = {}

    def fake_compare(*_args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(methods_compare, "compare", fake_compare)
    monkeypatch.setattr(cli_compare, "load_from_args",
                        lambda _args: SimpleNamespace(tokenizer=tiny_tokenizer(), name="tiny"))
    record = tmp_path / "base.json.gz"
    record.write_bytes(b"")
    with pytest.raises(_Stop):
        main(["compare", "--methods", "base,cast", "--from-results", f"base={record}",
              "--device", "cpu", "--out", str(tmp_path / "out")])
    assert seen["from_results"] == {"base": Path(record)}
