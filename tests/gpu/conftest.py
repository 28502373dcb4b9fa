"""The bf16 paths of training, capture, generation and the inference-time defences, on every
device at hand: always on the CPU (bf16 on the CPU, so dtype mistakes surface in CI without a
GPU), and on CUDA where there is one (``pytest -m gpu`` in ``benchmarks/gpu_check.sh``);
``HARC_GPU_CHECK_DEVICE=cpu`` skips the CUDA variant (the script's dry run)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

DEVICE_ENV = "HARC_GPU_CHECK_DEVICE"


@pytest.fixture(scope="session", params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> torch.device:
    name = request.param
    if name == "cuda" and os.environ.get(DEVICE_ENV, "cuda") == "cpu":
        pytest.skip(f"{DEVICE_ENV}=cpu: the CPU variant only")
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA here; the CPU variant ran")
    return torch.device(name)


@pytest.fixture(autouse=True)
def _one_cpu_thread() -> Iterator[None]:
    """Tiny models gain nothing from more CPU threads (see tests/methods/conftest.py)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
