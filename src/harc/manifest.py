"""What ran: one record per invocation of a command, appended to ``manifest.json`` in the
run's output directory (``harc.cli`` writes it), so a result can be traced to its command,
settings, seed, software, hardware, model and judges (a resumed run keeps every invocation's
record)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from harc.io import sha256_files, write_json_atomic

MANIFEST_FILE = "manifest.json"
PACKAGES = ("harc", "torch", "transformers", "peft", "accelerate", "trl", "safetensors",
            "numpy", "scipy", "scikit-learn")


def package_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def hardware() -> dict[str, Any]:
    import torch

    record: dict[str, Any] = {"platform": platform.platform(), "python": sys.version.split()[0],
                              "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        record["cuda"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return record


def invocation_record(
    argv: list[str], settings: Mapping[str, Any], *, status: str, seconds: float,
    model: Mapping[str, Any] | None = None, judge_model: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One invocation: the command line, every setting as parsed (with the sha256 of every
    setting that names a file, e.g. a config, suite or judge template), the model as loaded
    and the judge model (name, source, dtype, device, chat-template digest), package versions
    and hardware."""
    files = {key: sha256_files(value) for key, value in settings.items()
             if isinstance(value, (str, Path)) and str(value) and Path(value).is_file()}
    return {
        "command": argv, "status": status, "error": error,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(seconds, 3),
        "settings": {key: _plain(value) for key, value in settings.items()},
        "file_digests": files, "model": dict(model) if model else None,
        "judge_model": dict(judge_model) if judge_model else None,
        "packages": package_versions(), "hardware": hardware(),
    }


def append_manifest(path: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Add ``record`` to the manifest at ``path`` (atomically; an unreadable manifest is kept
    aside as ``<path>.unreadable`` rather than lost)."""
    path = Path(path)
    runs: list[Any] = []
    if path.is_file():
        try:
            runs = list(json.loads(path.read_text(encoding="utf-8"))["runs"])
        except (OSError, ValueError, KeyError, TypeError):
            path.replace(path.with_name(path.name + ".unreadable"))
    write_json_atomic(path, {"runs": [*runs, record]})
    return path


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)
