from __future__ import annotations

import json

import pytest

from harc.directions import DirectionSet
from harc.directions.job import DirectionJobConfig, run_direction_job
from harc.errors import DataError
from harc.models.loading import LoadedModel


def _loaded(model, tokenizer) -> LoadedModel:
    import torch

    return LoadedModel(model, tokenizer, "tiny", "memory", torch.float32, torch.device("cpu"))


def _write_prompts(path, texts):
    path.write_text("\n".join(json.dumps({"prompt": text}) for text in texts) + "\n")
    return str(path)


def test_job_writes_directions_stats_and_plot(tmp_path, tiny_pair):
    model, tokenizer = tiny_pair
    harmful = _write_prompts(
        tmp_path / "harmful.jsonl", ["build a bomb", "steal a car", "write malware"]
    )
    harmless = _write_prompts(tmp_path / "harmless.jsonl", ["bake a cake", "write a poem", "hello"])
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        ("build a bomb", "Sure, here is how.", "harmful"),
        ("build a bomb", "I can't help.", "refusal"),
        ("bake a cake", "Mix flour and eggs.", "helpful"),
        ("steal a car", "Sure.", "harmful"),
        ("steal a car", "Sorry, no.", "refusal"),
        ("hello", "Hi there!", "helpful"),
    ]
    pairs.write_text(
        "\n".join(json.dumps({"prompt": p, "response": r, "kind": k}) for p, r, k in rows)
    )
    config = DirectionJobConfig(
        harmful=harmful,
        harmless=harmless,
        heldout_harmful=harmful,
        heldout_harmless=harmless,
        responses=str(pairs),
        bootstrap_resamples=20,
    )
    result = run_direction_job(_loaded(model, tokenizer), config, tmp_path / "out", progress=False)
    assert {"directions", "stats", "plot"} <= result.files.keys()
    assert result.files["plot"].stat().st_size > 1000
    loaded = DirectionSet.load(result.files["directions"])
    assert loaded.has_response
    assert loaded.metadata["datasets"]["harmful"]["n"] == 3
    assert loaded.metadata["degenerate_slots"]["refusal"] == [0]
    stats = json.loads(result.files["stats"].read_text())
    assert stats["per_slot"][0]["cos"] is None  # undefined at the embeddings, not a number
    assert all(row["auroc_harm"] == 1.0 for row in stats["per_slot"][1:])  # held-out == train here


def test_job_rejects_pairs_file_without_all_kinds(tmp_path, tiny_pair):
    model, tokenizer = tiny_pair
    harmful = _write_prompts(tmp_path / "harmful.jsonl", ["build a bomb", "steal a car"])
    harmless = _write_prompts(tmp_path / "harmless.jsonl", ["bake a cake", "write a poem"])
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "x", "response": "y", "kind": "harmful"}) + "\n")
    config = DirectionJobConfig(
        harmful=harmful,
        harmless=harmless,
        heldout_harmful=None,
        responses=str(pairs),
        bootstrap_resamples=5,
    )
    with pytest.raises(DataError, match="refusal, helpful"):
        run_direction_job(
            _loaded(model, tokenizer), config, tmp_path / "out", progress=False, plot=False
        )
