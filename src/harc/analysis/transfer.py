"""Do the directions transfer? Compare two direction sets (models, checkpoints or sizes).

Same residual space (same slots and hidden size, e.g. base vs HARC-tuned, or two
checkpoints): cosine between corresponding directions per slot. Different hidden sizes (one
family at two scales): no direct cosine exists, so per-slot *profiles* are compared against
relative depth (slot / last slot), each linearly interpolated to a common grid, and their
Pearson correlation is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harc.analysis.errors import AnalysisError
from harc.directions import DirectionSet
from harc.directions.selection import layer_scores, select_layers

PAIRS = (("harm", "harm"), ("refusal", "refusal"), ("harm_resp", "harm_resp"),
         ("refusal_resp", "refusal_resp"))
STATS_FILE = "direction_stats.json"


@dataclass
class LoadedDirections:
    path: Path
    directions: DirectionSet
    stats: dict[str, Any] | None  # direction_stats.json of a `harc directions` run, if any

    @property
    def name(self) -> str:
        return str(self.path)


def load_directions(path: str | Path) -> LoadedDirections:
    """A direction file, or a directory holding ``directions.safetensors``."""
    target = Path(path)
    if target.is_dir():
        candidate = target / "directions.safetensors"
        if not candidate.exists():
            found = sorted(p.name for p in target.glob("*.safetensors"))
            raise AnalysisError(
                f"{target}: no directions.safetensors; pass one of its files instead: "
                f"{', '.join(found) or 'none found'}")
        target = candidate
    directions = DirectionSet.load(target)
    stats_path = target.parent / STATS_FILE
    stats = None
    if target.name == "directions.safetensors" and stats_path.is_file():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
    return LoadedDirections(target, directions, stats)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> list[float | None]:
    """Per-slot cosine; None where either direction is zero (undefined)."""
    values = torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1)
    defined = (a.norm(dim=-1) > 0) & (b.norm(dim=-1) > 0)
    return [float(v) if ok else None for v, ok in zip(values, defined, strict=True)]


def direction_cosines(a: DirectionSet, b: DirectionSet) -> dict[str, list[float | None]]:
    """cos(a.X[L], b.X[L]) per slot for every direction both sets have."""
    if a.harm.shape != b.harm.shape:
        raise AnalysisError(
            f"direction sets live in different spaces ({tuple(a.harm.shape)} vs "
            f"{tuple(b.harm.shape)}): compare profiles instead")
    result = {}
    for left, right in PAIRS:
        x, y = getattr(a, left), getattr(b, right)
        if x is not None and y is not None:
            result[left] = _cosine(x, y)
    return result


def profiles(item: LoadedDirections) -> dict[str, np.ndarray]:
    """Per-slot curves that need no shared space; NaN where undefined."""
    d = item.directions
    curves = {"cos(v_harm, v_ref)": _nan(_cosine(d.harm, d.refusal))}
    if d.harm_norm is not None and float(d.harm_norm.max()) > 0:
        curves["harm gap norm / max"] = (d.harm_norm / d.harm_norm.max()).double().numpy()
    if d.refusal_norm is not None and float(d.refusal_norm.max()) > 0:
        curves["refusal gap norm / max"] = (d.refusal_norm / d.refusal_norm.max()).double().numpy()
    if d.harm_resp is not None:
        curves["cos(v_harm, v_harm_resp)"] = _nan(_cosine(d.harm, d.harm_resp))
    if d.has_response:
        scores = layer_scores(d).double()
        if float(scores.max()) > 0:
            curves["HARC layer score / max"] = (scores / scores.max()).numpy()
    rows = (item.stats or {}).get("per_slot") or []
    for key in ("auroc_harm", "auroc_refusal"):
        if rows and all(key in row for row in rows) and len(rows) == d.num_slots:
            curves[key] = np.array([np.nan if r[key] is None else r[key] for r in rows], float)
    return curves


def _nan(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def relative_depth(num_slots: int) -> np.ndarray:
    if num_slots < 2:
        raise AnalysisError("a profile needs at least 2 slots")
    return np.arange(num_slots) / (num_slots - 1)


def compare_profile(
    a: np.ndarray, b: np.ndarray, grid_points: int = 21
) -> dict[str, Any]:
    """Interpolate both curves (finite points only) to ``grid_points`` relative depths."""
    grid = np.linspace(0.0, 1.0, grid_points)
    curves = []
    for values in (a, b):
        depth = relative_depth(len(values))
        ok = np.isfinite(values)
        if ok.sum() < 2:
            raise AnalysisError("a profile has fewer than 2 defined slots")
        curves.append(np.interp(grid, depth[ok], values[ok]))
    r = None
    if all(np.std(curve) > 1e-12 * max(1.0, float(np.abs(curve).max())) for curve in curves):
        r = float(np.corrcoef(curves[0], curves[1])[0, 1])
    return {"grid": grid.tolist(), "a": curves[0].tolist(), "b": curves[1].tolist(),
            "pearson_r": r}


@dataclass
class TransferResult:
    a: str
    b: str
    same_space: bool
    cosines: dict[str, list[float | None]] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per set (a, b): HARC's top-K slots for K = 2 and 4 (first/last 4 excluded), with their
    # relative depths: does the same rule pick the same depth at another scale?
    selected: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        means = {}
        for name, values in self.cosines.items():
            defined = [v for v in values if v is not None]
            means[name] = float(np.mean(defined)) if defined else None
        return {"a": self.a, "b": self.b, "same_space": self.same_space,
                "mean_cosine": means,
                "profile_r": {k: v["pearson_r"] for k, v in self.profiles.items()},
                "selected": self.selected}

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "cosines": self.cosines, "profiles": self.profiles}


def compare_directions(a: str | Path, b: str | Path, *, grid_points: int = 21) -> TransferResult:
    left, right = load_directions(a), load_directions(b)
    same = left.directions.harm.shape == right.directions.harm.shape
    result = TransferResult(left.name, right.name, same)
    if same:
        result.cosines = direction_cosines(left.directions, right.directions)
    curves_a, curves_b = profiles(left), profiles(right)
    for name in curves_a.keys() & curves_b.keys():
        result.profiles[name] = compare_profile(curves_a[name], curves_b[name], grid_points)
    result.profiles = dict(sorted(result.profiles.items()))
    for key, item in (("a", left), ("b", right)):
        if item.directions.has_response and item.directions.num_slots >= 12:  # 4 + 4 + 4
            result.selected[key] = selected_slots(item.directions)
    return result


def selected_slots(directions: DirectionSet, exclude: int = 4) -> dict[str, Any]:
    """HARC's layer choice (top 2 and top 4 by the §5 score) and its relative depths."""
    last = directions.num_slots - 1
    chosen = {}
    for k in (2, 4):
        slots = select_layers(directions, k, exclude, exclude)
        chosen[f"top{k}"] = {"slots": slots, "depth": [round(s / last, 3) for s in slots]}
    return chosen
