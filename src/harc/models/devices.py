"""Dtype and device resolution: names (``auto`` included) to the torch dtype and device to use."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from harc.errors import HarcError

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}

AUTO = "auto"
# CPU feature flags (Linux /proc/cpuinfo) of native bfloat16 matmul instructions: AVX512-BF16
# and AMX on x86, the BF16 extension on Arm. Without them bf16 is emulated and slower than fp32.
_NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def _cpuinfo_value(*keys: str) -> str | None:
    """The value of the first line of Linux's /proc/cpuinfo whose key is one of ``keys``
    (None elsewhere, or when no line has such a key)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in keys:
            return value.strip()
    return None


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    return frozenset((_cpuinfo_value("flags", "features") or "").split())


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 matmuls natively (so bf16 is faster than fp32)."""
    device = resolve_device(device) if str(device) == AUTO else torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(cpu_flags() & _NATIVE_BF16_FLAGS)
    return False


def cpu_name() -> str | None:
    """The CPU's model name as Linux reports it (None elsewhere)."""
    return _cpuinfo_value("model name")


def machine_description() -> dict[str, object]:
    """What computed a result, for records that may be compared across machines: the CPU and
    whether it has native bf16, whether bf16 matmuls are computed in float32 in this process
    (:mod:`harc.models.cpu_bf16`), and the CUDA devices."""
    from harc.models.cpu_bf16 import bf16_matmuls_routed

    cuda = ([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if torch.cuda.is_available() else [])
    return {"cpu": cpu_name(), "cpu_native_bf16": native_bf16("cpu"),
            "bf16_matmuls_in_float32": bf16_matmuls_routed(), "cuda": cuda}


def resolve_dtype(dtype: str | torch.dtype, device: str | torch.device = "cpu") -> torch.dtype:
    """A torch dtype from its name; ``auto`` is bfloat16 where ``device`` has native bf16
    (GPUs, CPUs with AVX512-BF16 / AMX / Arm BF16) and float32 elsewhere.

    One dtype serves every stage (capture, training, generation, judging): on a 2-core
    AVX512-BF16 CPU bf16 measured faster in each of them (``benchmarks/``), and a model held
    in two dtypes would double its memory. ``benchmarks/dtype_agreement.py`` measures what
    bf16 changes (directions, loss curve, greedy outputs) against fp32.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype.lower() == AUTO:
        return torch.bfloat16 if native_bf16(device) else torch.float32
    try:
        return DTYPES[dtype.lower()]
    except KeyError:
        names = ", ".join([*DTYPES, AUTO])
        raise HarcError(f"unknown dtype {dtype!r}; use one of {names}") from None


DEVICE_HELP = "auto (cuda, else mps, else cpu) | cpu | cuda | cuda:N | mps"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def _rank_gpu() -> int | None:
    """This process's ``LOCAL_RANK`` when it names a GPU of this machine (torchrun and
    accelerate launch set it), else None."""
    local_rank = int(os.environ.get("LOCAL_RANK", -1))
    return local_rank if 0 <= local_rank < torch.cuda.device_count() else None


def resolve_device(device: str | torch.device = AUTO) -> torch.device:
    """A torch device from its name, checked against this machine; ``auto`` is CUDA where
    available, else Apple's MPS, else the CPU. Raises a one-line :class:`HarcError` for a
    name torch does not know or an accelerator this machine lacks.

    ``auto`` (and a bare ``cuda``) name the GPU index: this process's ``LOCAL_RANK`` under
    ``torchrun`` / ``accelerate launch`` (one GPU per rank, the device accelerate gives that
    rank), else the current CUDA device.
    """
    name = str(device).strip().lower()
    if name == AUTO:
        if torch.cuda.is_available():
            rank_gpu = _rank_gpu()
            return torch.device("cuda", torch.cuda.current_device() if rank_gpu is None
                                else rank_gpu)
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        resolved = torch.device(name)
    except (RuntimeError, ValueError):
        raise HarcError(f"--device {device}: not a device; use {DEVICE_HELP}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise HarcError(f"--device {device}: CUDA is not available on this machine")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise HarcError(f"--device {device}: this machine has {count} CUDA device(s)")
        rank_gpu = _rank_gpu()
        if resolved.index is None and int(os.environ.get("WORLD_SIZE", "1")) > 1 and (
                rank_gpu is not None):
            resolved = torch.device("cuda", rank_gpu)  # one GPU per rank, as with auto
    elif resolved.type == "mps":
        if not _mps_available():
            raise HarcError(f"--device {device}: MPS is not available on this machine")
    elif resolved.type != "cpu":
        raise HarcError(f"--device {device}: unsupported device type; use {DEVICE_HELP}")
    return resolved
