from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path("/work/shared/data")


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARC_DATA", raising=False)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data not present")
    return SHARED_DATA
