from __future__ import annotations

import json

import torch

from harc.analysis import (
    attack_separability,
    attack_shifts,
    fit_response_axis,
    link_outcome,
    plane_points,
    recognition,
    sweep_slots,
)
from harc.analysis.job import AnalysisConfig, AnalysisResult
from harc.analysis.reference import ReferenceAnswers
from harc.analysis.report import write_report, write_transfer_report
from harc.analysis.suppression import SuppressionRule
from harc.analysis.transfer import compare_directions
from harc.judges import Verdict
from tests.analysis.synthetic import (
    EXPECTED_VERDICTS,
    HIDDEN,
    VERDICT_PLACEMENT,
    directions,
    make_classes,
)


def _tokens(offset: float, n: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        item = 0.1 * torch.randn(6, HIDDEN, generator=generator)
        item[:, 7] += 5.0
        item[:, 0] += offset
        out.append(item)
    return out


def synthetic_result(sweep: bool = True) -> AnalysisResult:
    classes = make_classes(VERDICT_PLACEMENT, n=10, num_slots=3)
    d = directions(num_slots=3)
    points = plane_points(classes, d, slot=1)
    success = [label != "direct" and y < 0.5 for label, (_, y) in
               zip(points.labels, points.coords, strict=True)]
    axis = fit_response_axis(_tokens(2.0, 6, 1), _tokens(0.0, 6, 2), _tokens(0.0, 6, 3),
                             slot=1, window=6, folds=3)
    answers = [_tokens(2.0 if s else 0.0, 1, i)[0] for i, s in enumerate(success)]
    aurocs = {slot: (0.9, 0.8) for slot in range(3)}
    rule = SuppressionRule()
    return AnalysisResult(
        config=AnalysisConfig(n_goals=10, n_harmless=10, sweep=sweep), model="synthetic",
        model_key="synthetic|base", slot=1, slot_source="auto", aurocs=aurocs, points=points,
        responses=["text"] * len(success),
        verdicts=[Verdict(not s, s, 0.0, "keyword") for s in success], success=success,
        rule=rule, shifts=attack_shifts(points, rule=rule, resamples=200),
        separability=attack_separability(points), outcome=link_outcome(points, success),
        recognition=recognition(axis, points, success, answers),
        reference=ReferenceAnswers({"harmful": [("p", "r")]}, "test"),
        sweep=sweep_slots(classes, d, aurocs, resamples=100) if sweep else None,
        timings={"statistics": 1.0}, load_average={"start": [0.1, 0.2, 0.3]})


def test_report_files_are_written_and_non_empty(tmp_path):
    result = synthetic_result()
    files = write_report(result, tmp_path)
    for name in ("plane_png", "response_png", "sweep_png"):
        assert files[name].stat().st_size > 5000, name
        assert files[name].read_bytes()[:4] == b"\x89PNG"
    markdown = files["markdown"].read_text()
    for verdict in EXPECTED_VERDICTS.values():
        assert f"**{verdict}**" in markdown
    assert "accuracy" in markdown and "chance" in markdown and "Slot sweep" in markdown
    assert "upper bound" in markdown  # the rule is stated
    summary = json.loads(files["summary_json"].read_text())
    assert {s["attack"]: s["verdict"] for s in summary["shifts"]} == EXPECTED_VERDICTS
    plane = json.loads(files["plane_json"].read_text())
    assert len(plane["points"]) == len(result.points.labels)
    assert {"jailbroken", "response", "harm", "refusal"} <= set(plane["points"][0])
    assert set(plane["classes"]) == set(result.points.classes())
    response = json.loads(files["response_json"].read_text())
    assert response["fraction"]["any_token"] is not None and "jailbroken" in response["curves"]
    assert "window_mean" in markdown and "false-alarm" in markdown


def test_sweep_rows_keep_undefined_slots():
    classes = make_classes({"a": (1.0, 0.0)}, n=6, num_slots=3)
    d = directions(num_slots=3)
    d.refusal[0] = 0.0  # like t_post at the embeddings
    for item in classes:
        item.t_post[:, 0] = 1.0
    rows = sweep_slots(classes, d, {s: (0.9, 0.5) for s in range(3)}, resamples=50)
    assert rows[0]["error"] and rows[0]["separability"] is None
    assert rows[2]["verdicts"] == {"a": "suppresses refusal"}


def test_transfer_report(tmp_path):
    directions().save(tmp_path / "a")
    directions().save(tmp_path / "b")
    result = compare_directions(tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    files = write_transfer_report(result, tmp_path / "out")
    assert files["transfer_png"].stat().st_size > 5000
    assert "+1.000" in files["markdown"].read_text()
