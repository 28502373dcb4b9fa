"""Every figure harc draws is written the same way: matplotlib's Agg backend (no display
needed), a tight layout, PNG written atomically, the figure closed. Plotting modules take
``plt`` from here, so the backend is chosen before pyplot is first imported."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from harc.io import atomic_path

__all__ = ["plt", "save_png"]


def save_png(figure: plt.Figure, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    figure.tight_layout()
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return target
