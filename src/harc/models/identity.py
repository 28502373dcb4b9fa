"""What weights are under test, as a string: the key that generation caches are filed under.

A key names the model (name, source, dtype, and its weights' revision when known, see
:func:`weights_revision`) and, when a PEFT adapter sits on top, the first
16 hex digits of the sha256 of the adapter's config and weights, so retraining an adapter in
the same directory never reuses the old answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from harc.errors import HarcError
from harc.io import sha256_files
from harc.models.loading import LoadedModel

logger = logging.getLogger(__name__)

ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def adapter_digest(adapter: str | Path) -> str:
    """sha256 of the adapter's config and weights file; both must be there (PEFT needs both)."""
    root = Path(adapter)
    config = root / "adapter_config.json"
    weights = next((root / name for name in ADAPTER_WEIGHTS if (root / name).is_file()), None)
    if weights is None or not config.is_file():
        raise HarcError(f"{root}: not a PEFT adapter directory (need adapter_config.json and "
                        f"{' or '.join(ADAPTER_WEIGHTS)})")
    return sha256_files(config, weights)


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def weights_revision(loaded: LoadedModel) -> str | None:
    """Tells two versions of the weights at one ``source`` apart. A local model directory: a
    digest of its weight and config files' names, sizes and modification times (rewriting the
    weights in place, as a second ``harc merge`` into one directory does, changes it; hashing
    gigabytes of weights for every key would not pay). A Hub model: the commit transformers
    resolved. Otherwise None: GGUF files (the embedded models are pinned by their package
    versions; a GGUF is rarely rewritten in place) and models built in memory."""
    local = Path(loaded.source)
    if local.is_dir():
        digest = hashlib.sha256()
        for file in sorted(local.iterdir()):
            if file.is_file() and (file.suffix in WEIGHT_SUFFIXES or file.name == "config.json"):
                stat = file.stat()
                digest.update(f"{file.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()[:12]
    if local.suffix == ".gguf":
        return None
    commit = getattr(getattr(loaded.model, "config", None), "_commit_hash", None)
    return str(commit)[:12] if commit else None


def model_key(loaded: LoadedModel, adapter_sha: str | None = None) -> str:
    """The generation-cache key of the weights under test."""
    base = f"{loaded.name}|{loaded.source}|{str(loaded.dtype).removeprefix('torch.')}"
    revision = weights_revision(loaded)
    if revision:
        base = f"{base}@{revision}"
    return f"{base}|adapter={adapter_sha[:16]}" if adapter_sha else f"{base}|base"


def with_adapter(loaded: LoadedModel, adapter: str | Path | None) -> tuple[Any, str | None]:
    """``loaded.model`` with the PEFT ``adapter`` on top (in eval mode) and the adapter's
    digest, or the bare model and None; pass the digest to :func:`model_key`."""
    if adapter is None:
        return loaded.model, None
    from peft import PeftModel

    sha = adapter_digest(adapter)
    warn_if_other_base(loaded, adapter)
    try:
        return PeftModel.from_pretrained(loaded.model, str(adapter)).eval(), sha
    except RuntimeError as error:  # torch's "size mismatch for ..." when loading the weights
        if "size mismatch" not in str(error):
            raise
        raise HarcError(f"{adapter} does not fit {loaded.name}: it was trained on a model of "
                        "another shape (" + _first_mismatch(str(error)) + ")") from None


def warn_if_other_base(loaded: LoadedModel, adapter: str | Path) -> None:
    """Log a warning when the adapter's recorded base model is not the loaded one (a Hub id
    and a local copy of it may differ in name only, so this is a warning, not an error)."""
    raw = json.loads((Path(adapter) / "adapter_config.json").read_text(encoding="utf-8"))
    recorded = str(raw.get("base_model_name_or_path") or "")
    here = str(getattr(getattr(loaded.model, "config", None), "_name_or_path", "") or "")
    if recorded and here and recorded.rstrip("/") != here.rstrip("/"):
        logger.warning("adapter %s was trained on %s, but the model here is %s (%s): check that "
                       "it is the same base model", adapter, recorded, here, loaded.name)


def _first_mismatch(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if "size mismatch" in line]
    return lines[0].rstrip(".") if lines else "size mismatch"
