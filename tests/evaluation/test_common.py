from __future__ import annotations

import json

import pytest

from harc.errors import DataError, HarcError
from harc.evaluation.benchmarks.common import (
    BenchmarkResult,
    SampleRecord,
    data_root,
    generate,
    mean_metric,
    proportion,
    resolve_file,
    subsample,
    wilson_interval,
)
from harc.evaluation.benchmarks.readers import read_csv, read_jsonl, read_table
from tests.evaluation.fakes import FakeGenerator


def test_wilson_interval_matches_known_values():
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4)
    assert high == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_proportion_and_mean_metrics():
    metric = proportion(3, 4)
    assert metric.value == 0.75 and metric.n == 4 and metric.method == "wilson"
    assert metric.ci_low < 0.75 < metric.ci_high
    mean = mean_metric([4.0, 6.0, 8.0])
    assert mean.value == 6.0 and mean.ci_low < 6.0 < mean.ci_high


def test_subsample_is_seeded_ordered_and_complete_without_limit():
    items = list(range(100))
    first = subsample(items, 10, seed=3)
    assert first == subsample(items, 10, seed=3)
    assert first != subsample(items, 10, seed=4)
    assert first == sorted(first) and len(set(first)) == 10
    assert subsample(items, None) == items
    assert subsample(items, 500) == items


def test_data_root_uses_argument_then_env(tmp_path, monkeypatch):
    monkeypatch.delenv("HARC_DATA", raising=False)
    with pytest.raises(DataError, match="HARC_DATA"):
        data_root()
    monkeypatch.setenv("HARC_DATA", str(tmp_path))
    assert data_root() == tmp_path
    with pytest.raises(DataError, match="not found"):
        data_root(tmp_path / "missing")


def test_resolve_file_rejects_missing_and_empty(tmp_path):
    with pytest.raises(DataError, match="not found"):
        resolve_file("x/y.jsonl", root=tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        resolve_file("ignored", empty)


def test_readers_name_the_file_and_row(tmp_path):
    bad_json = tmp_path / "a.jsonl"
    bad_json.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(DataError, match=r"a\.jsonl, line 2"):
        read_jsonl(bad_json)
    bad_csv = tmp_path / "b.csv"
    bad_csv.write_text("x,y\n1,2\n1,2,3\n")
    with pytest.raises(DataError, match=r"b\.csv, row 2"):
        read_csv(bad_csv)
    blank = tmp_path / "c.csv"
    blank.write_text("   \n")
    with pytest.raises(DataError, match="empty"):
        read_csv(blank)


def test_read_table_accepts_json_array_and_jsonl_named_json(tmp_path):
    array = tmp_path / "a.json"
    array.write_text(json.dumps([{"prompt": "hi"}]))
    lines = tmp_path / "b.json"
    lines.write_text('{"prompt": "hi"}\n')
    assert read_table(array)[0][1] == {"prompt": "hi"}
    assert read_table(lines)[0][1] == {"prompt": "hi"}
    with pytest.raises(DataError, match="unsupported"):
        read_table(tmp_path / "x.parquet")


def test_generate_checks_the_output_count():
    class Short(FakeGenerator):
        def generate(self, prompts, settings=None):
            return ["only one"]

    with pytest.raises(HarcError, match="1 outputs for 2 prompts"):
        generate(Short(), ["a", "b"], None)


def test_result_properties_and_dict():
    result = BenchmarkResult(
        benchmark="x",
        primary="acc",
        metrics={"acc": proportion(1, 2)},
        samples=[SampleRecord("p", "o", 1.0, "correct")],
    )
    assert result.score == 0.5 and result.n == 2 and result.ci == result.metrics["acc"].ci
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["samples"][0]["verdict"] == "correct"
