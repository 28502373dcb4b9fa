"""The ``gpu`` tests run on CUDA; ``HARC_GPU_CHECK_DEVICE=cpu`` runs them on the CPU (the dry run
of ``benchmarks/gpu_check.sh``). Without CUDA and without that variable they are skipped."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

DEVICE_ENV = "HARC_GPU_CHECK_DEVICE"


@pytest.fixture(scope="session")
def device() -> torch.device:
    name = os.environ.get(DEVICE_ENV, "cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip(f"no CUDA here ({DEVICE_ENV}=cpu runs the gpu tests on the CPU)")
    return torch.device(name)


@pytest.fixture(autouse=True)
def _one_cpu_thread() -> Iterator[None]:
    """Tiny models gain nothing from more CPU threads (see tests/methods/conftest.py)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
