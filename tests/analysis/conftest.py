from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models and 2-D classifiers gain nothing from threads, and on a shared, loaded
    machine two OpenMP/BLAS threads spend most of each tiny op waiting on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)
