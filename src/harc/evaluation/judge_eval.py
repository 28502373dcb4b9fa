"""Judges measured against labels, and probes trained and cross-validated on them.

``evaluate_judge`` scores any registered judge on a :class:`~harc.data.labels.LabelSet`.
For the probe, a fixed probe file is only fair on data it never saw, so
``cross_validate_probe`` gives out-of-fold verdicts instead: folds grouped by behaviour (or
goal), with slot, pooling and C chosen inside each training fold (nested), so no verdict comes
from a probe that saw its behaviour. ``train_probe`` fits the final probe on every sample.
Features are cached under ``$HARC_CACHE/probe_features`` keyed by the feature model, the
feature layout and the exact (goal, response) pairs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from harc import __version__
from harc.activations import all_slots
from harc.cache import cache_subdir
from harc.data.labels import LabelledSample, LabelSet
from harc.errors import HarcError
from harc.evaluation.judge_scores import score_judge
from harc.io import atomic_path
from harc.judges.base import Verdict
from harc.judges.probe import Probe
from harc.judges.probe_features import FeatureSpec, capture_features
from harc.judges.probe_training import (
    DEFAULT_C,
    SearchGrid,
    fit_probe,
    nested_predictions,
    select,
)
from harc.models.identity import model_key
from harc.models.loading import LoadedModel

BREAKDOWNS = {"jbb": ("attack", "target_model"), "xstest": ("type", "prompt_safety"),
              "gold": ("attack", "model", "label")}


def evaluate_judge(judge: Any, labels: LabelSet, *, compared: str | None = None
                   ) -> dict[str, Any]:
    """The judge's verdicts on every sample, scored; with throughput."""
    started = time.perf_counter()
    asked = [s.prompt if getattr(judge, "reads_prompt", False) else s.goal
             for s in labels.samples]
    verdicts = judge.judge(asked, [s.response for s in labels.samples])
    seconds = time.perf_counter() - started
    return {**_scored(labels, verdicts, compared), "seconds": seconds,
            "answers_per_second": len(labels.samples) / seconds if seconds > 0 else None,
            "verdicts": _verdict_rows(labels.samples, verdicts)}


def _scored(labels: LabelSet, verdicts: Sequence[Verdict], compared: str | None
            ) -> dict[str, Any]:
    field = compared or labels.compared
    if field not in ("harmful", "refused"):
        raise HarcError(f"compare on 'harmful' or 'refused', not {field!r}")
    return {"labels": labels.source, "label_kind": labels.kind, "labels_digest": labels.digest(),
            **score_judge(labels.samples, verdicts, field,  # type: ignore[arg-type]
                          by=BREAKDOWNS[labels.kind])}


def _verdict_rows(samples: Sequence[LabelledSample], verdicts: Sequence[Verdict]
                  ) -> list[dict[str, Any]]:
    return [{"group": s.group, "harmful_label": s.harmful, "refused_label": s.refused,
             "harmful": v.harmful, "refused": v.refused, "score": v.score}
            for s, v in zip(samples, verdicts, strict=True)]


def probe_features(
    loaded: LoadedModel, sets: Sequence[LabelSet], spec: FeatureSpec, *,
    batch_size: int = 8, progress: bool = True,
) -> tuple[dict[str, torch.Tensor], dict[int, int]]:
    """Features at every slot for the samples of ``sets``, in order (cached per set), and the
    slot -> column map."""
    parts = [_set_features(loaded, labels, spec, batch_size, progress) for labels in sets]
    features = {name: torch.cat([part[name] for part in parts]) for name in parts[0]}
    return features, {slot: index for index, slot in enumerate(all_slots(loaded.model))}


def _set_features(loaded: LoadedModel, labels: LabelSet, spec: FeatureSpec, batch_size: int,
                  progress: bool) -> dict[str, torch.Tensor]:
    """Features of every (goal, response) of ``labels``: rows already captured for this model
    and layout (in any earlier cache file) are reused, only new pairs are run."""
    prefix = hashlib.sha256(json.dumps([model_key(loaded, None), spec.digest()]).encode())
    folder = cache_subdir("probe_features") / prefix.hexdigest()[:24]
    folder.mkdir(exist_ok=True)
    keys = [hashlib.sha256(json.dumps([s.goal, s.response]).encode()).hexdigest()
            for s in labels.samples]
    found: dict[str, dict[str, torch.Tensor]] = {}
    for file in sorted(folder.glob("*.st")):
        with safe_open(str(file), framework="pt") as handle:
            stored = json.loads((handle.metadata() or {}).get("keys", "[]"))
            wanted = [i for i, key in enumerate(stored) if key in set(keys) - found.keys()]
            if wanted:
                block = {name: handle.get_tensor(name)[wanted] for name in handle.keys()}  # noqa: SIM118
                for row, index in enumerate(wanted):
                    found[stored[index]] = {name: v[row] for name, v in block.items()}
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    if missing:
        at = {key: i for i, key in enumerate(keys)}
        pairs = [(labels.samples[at[k]].goal, labels.samples[at[k]].response) for k in missing]
        fresh = capture_features(loaded.model, loaded.tokenizer, pairs, spec,
                                 batch_size=batch_size, progress=progress)
        name = hashlib.sha256("".join(missing).encode()).hexdigest()[:24]
        with atomic_path(folder / f"{name}.st") as tmp:
            save_file({k: v.contiguous() for k, v in fresh.items()}, str(tmp),
                      metadata={"keys": json.dumps(missing)})
        for row, key in enumerate(missing):
            found[key] = {name: v[row] for name, v in fresh.items()}
    return {name: torch.stack([found[key][name] for key in keys]) for name in found[keys[0]]}


def _arrays(samples: Sequence[LabelledSample]) -> tuple[np.ndarray, np.ndarray]:
    if any(s.harmful is None for s in samples):
        raise HarcError("a probe trains on harm labels; some samples have none (XSTest?)")
    return (np.array([int(bool(s.harmful)) for s in samples]),
            np.array([s.group for s in samples]))


def cross_validate_probe(
    loaded: LoadedModel, train: Sequence[LabelSet], spec: FeatureSpec, *,
    slots: Sequence[int], cs: Sequence[float] = DEFAULT_C, n_folds: int = 5,
    batch_size: int = 8, progress: bool = True,
) -> dict[str, Any]:
    """Out-of-fold probe verdicts on every sample of ``train`` (nested, grouped), scored per
    label set; the candidates each outer fold chose."""
    samples = [s for labels in train for s in labels.samples]
    labels, groups = _arrays(samples)
    features, index = probe_features(loaded, train, spec, batch_size=batch_size,
                                     progress=progress)
    started = time.perf_counter()
    grid = SearchGrid(slots, index, cs, n_folds)
    probabilities, chosen = nested_predictions(features, labels, groups, grid, spec=spec,
                                               progress=progress)
    verdicts = [Verdict(None, bool(p > 0.5), float(p), "probe", "out-of-fold")
                for p in probabilities]
    out: dict[str, Any] = {"folds": n_folds, "fit_seconds": time.perf_counter() - started,
                           "chosen": [vars(c) for c in chosen], "sets": {}}
    start = 0
    for label_set in train:
        part = verdicts[start : start + len(label_set.samples)]
        out["sets"][label_set.kind] = {**_scored(label_set, part, None),
                                       "verdicts": _verdict_rows(label_set.samples, part)}
        start += len(label_set.samples)
    return out


def train_probe(
    loaded: LoadedModel, reference: str, train: Sequence[LabelSet], spec: FeatureSpec, *,
    slots: Sequence[int], cs: Sequence[float] = DEFAULT_C, n_folds: int = 5,
    batch_size: int = 8, progress: bool = True,
    cross_validated: dict[str, Any] | None = None,
) -> tuple[Probe, dict[str, float]]:
    """The probe fitted on every sample, with slot/pooling/C chosen by grouped CV on all of
    them; and every candidate's CV balanced accuracy. ``reference``: how to load the feature
    model again (``embedded:default``, a path, a Hub id), recorded in the probe."""
    samples = [s for labels in train for s in labels.samples]
    labels, groups = _arrays(samples)
    features, index = probe_features(loaded, train, spec, batch_size=batch_size,
                                     progress=progress)
    selection = select(features, labels, groups, SearchGrid(slots, index, cs, n_folds),
                       progress=progress)
    digest = hashlib.sha256("".join(s.digest() for s in train).encode()).hexdigest()[:16]
    metadata = {"feature_model": reference, "feature_model_name": loaded.name,
                "feature_model_key": model_key(loaded, None), "harc_version": __version__,
                "training_sets": {s.kind: {"source": s.source, "n": len(s.samples),
                                           "digest": s.digest()} for s in train},
                "training_digest": digest, "cv_folds": n_folds,
                "cv_balanced_accuracy": selection.scores[selection.best],
                "cross_validated": cross_validated or {}}
    probe = fit_probe(features, labels, selection.best, slot_index=index, spec=spec,
                      metadata=metadata)
    table = {f"{c.pooling}@{c.slot}/C={c.c}": v for c, v in selection.scores.items()}
    return probe, table
