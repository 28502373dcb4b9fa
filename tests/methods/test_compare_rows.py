from __future__ import annotations

import dataclasses
import gzip
import json

import pytest
import torch

import harc.evaluation.runner as runner
import harc.methods.compare as compare_module
from harc.errors import HarcError
from harc.methods.actadd import ActAddMethod
from harc.methods.base import MethodOutput
from harc.methods.cast import CastMethod
from harc.methods.compare import compare
from harc.methods.compare_rows import (
    machine_summary,
    read_row_record,
    render_build_warnings,
    render_wall_times,
    row_extra,
    row_path,
    write_row_record,
)
from tests.methods.helpers import tiny_data, tiny_loaded
from tests.methods.test_compare import FAST, METHODS, data_root, tiny_suite  # noqa: F401


def _compare(out, root, suite=None, **kwargs):
    return compare(tiny_loaded(), METHODS, suite=suite or tiny_suite(), out_dir=out,
                   data=tiny_data(), data_root=root, progress=False, configs=FAST, **kwargs)


def test_rows_recorded_then_reused_without_building_or_evaluating(tmp_path, data_root,  # noqa: F811
                                                                  monkeypatch):
    first = _compare(tmp_path / "a", data_root)
    records = {name: row_path(tmp_path / "a", name) for name in METHODS}
    assert all(path.is_file() for path in records.values())

    def fail(*_args, **_kwargs):
        raise AssertionError("a recorded row was built or evaluated again")

    monkeypatch.setattr(CastMethod, "run", fail)
    monkeypatch.setattr(ActAddMethod, "run", fail)
    monkeypatch.setattr(runner, "evaluate", fail)
    second = _compare(tmp_path / "b", data_root, from_results=records)
    assert [r.to_dict()["sections"] for r in second.results] == [
        r.to_dict()["sections"] for r in first.results]
    assert [row.build_seconds for row in second.rows] == [row.build_seconds for row in first.rows]
    # timed by the sections' own seconds, so a reused (or resumed) row is not timed as instant
    assert [row.eval_seconds for row in second.rows] == [row.eval_seconds for row in first.rows]
    assert first.rows[0].eval_seconds == sum(s.seconds for s in first.results[0].sections) > 0
    assert (tmp_path / "b" / "table.md").read_text() == (tmp_path / "a" / "table.md").read_text()


def test_reuse_checks_the_inputs(tmp_path, data_root):  # noqa: F811
    _compare(tmp_path / "a", data_root)
    suite = tiny_suite()
    other = dataclasses.replace(suite, over_refusal=(
        dataclasses.replace(suite.over_refusal[0], limit=1),))
    with pytest.raises(HarcError, match=r"cast was recorded with another suite"):
        _compare(tmp_path / "b", data_root, suite=other,
                 from_results={"cast": row_path(tmp_path / "a", "cast")})
    with pytest.raises(HarcError, match=r"records method 'cast', not 'actadd'"):
        _compare(tmp_path / "c", data_root,
                 from_results={"actadd": row_path(tmp_path / "a", "cast")})


def test_a_record_of_another_model_fails_before_the_training_data_is_built(
        tmp_path, data_root, monkeypatch):  # noqa: F811
    _compare(tmp_path / "a", data_root)

    def fail(*_args, **_kwargs):
        raise AssertionError("training data built before the records were checked")

    monkeypatch.setattr(compare_module, "build_data", fail)
    other_dtype = dataclasses.replace(tiny_loaded(), dtype=torch.bfloat16)
    with pytest.raises(HarcError, match=r"cast was recorded with another model than"):
        compare(other_dtype, METHODS, suite=tiny_suite(), out_dir=tmp_path / "b",
                data_root=data_root, progress=False, configs=FAST,
                from_results={"cast": row_path(tmp_path / "a", "cast")})


def test_record_round_trip_is_byte_stable_and_bad_files_are_clear_errors(tmp_path,
                                                                         data_root):  # noqa: F811
    row = _compare(tmp_path / "a", data_root).rows[0]
    write_row_record(row, tmp_path / "one.json.gz")
    write_row_record(read_row_record(tmp_path / "one.json.gz"), tmp_path / "two.json.gz")
    assert (tmp_path / "one.json.gz").read_bytes() == (tmp_path / "two.json.gz").read_bytes()
    machine = read_row_record(tmp_path / "one.json.gz").machine
    assert machine is not None and set(machine) >= {"cpu_native_bf16", "bf16_matmuls_in_float32"}
    elsewhere = read_row_record(tmp_path / "one.json.gz")
    elsewhere.machine = {"cpu": "another CPU"}
    write_row_record(elsewhere, tmp_path / "three.json.gz")  # a read row keeps its machine
    assert read_row_record(tmp_path / "three.json.gz").machine == {"cpu": "another CPU"}
    # a record made before machines were recorded says so, not this process's machine
    with gzip.open(tmp_path / "one.json.gz", "rt") as handle:
        record = json.load(handle)
    del record["machine"]
    with gzip.open(tmp_path / "old.json.gz", "wt") as handle:
        json.dump(record, handle)
    old = read_row_record(tmp_path / "old.json.gz")
    assert old.machine == {} and machine_summary(old.machine) == "not recorded"
    (tmp_path / "plain.json.gz").write_text("{}")
    with pytest.raises(HarcError, match="not a readable harc compare row record"):
        read_row_record(tmp_path / "plain.json.gz")
    with gzip.open(tmp_path / "foreign.json.gz", "wt") as handle:
        json.dump({"format": "other"}, handle)
    with pytest.raises(HarcError, match="expected 'harc-compare-row/1'"):
        read_row_record(tmp_path / "foreign.json.gz")
    with pytest.raises(HarcError, match="not a readable"):
        read_row_record(tmp_path / "missing.json.gz")


def test_wall_times_and_build_warnings_of_each_row(tmp_path, data_root):  # noqa: F811
    row = _compare(tmp_path / "a", data_root).rows[0]
    rows = [dataclasses.replace(row, method="base", build_seconds=0.0, eval_seconds=3240.0,
                                machine={"cpu": "EPYC", "cpu_native_bf16": True}),
            dataclasses.replace(row, method="sft", build_seconds=8077.0, eval_seconds=11880.0,
                                machine={"cpu": "EPYC", "cpu_native_bf16": False,
                                         "bf16_matmuls_in_float32": True, "cuda": []}),
            dataclasses.replace(row, method="cast", build_seconds=60.0, eval_seconds=2100.0,
                                machine={"cuda": ["NVIDIA H200"]}),
            dataclasses.replace(row, method="old", build_seconds=7.0, machine={})]
    lines = render_wall_times(rows).splitlines()
    assert lines[4] == "| base | - | 54 min | EPYC (native bf16) |"
    assert lines[5] == "| sft | 2.2 h | 3.3 h | EPYC (bf16 matmuls in float32) |"
    assert lines[6] == "| cast | 1 min | 35 min | NVIDIA H200 |"
    assert lines[7].startswith("| old | 7 s |") and lines[7].endswith("| not recorded |")
    # and the comparison's table carries them, this process's machine for its fresh rows
    table = (tmp_path / "a" / "table.md").read_text()
    assert "Wall time per row" in table and machine_summary(None) in table
    assert "Build warnings" in table
    # a trained method's end-of-training warnings reach its row (its config does not)
    adapter = MethodOutput(method="repbend", kind="adapter", out_dir=tmp_path,
                           adapter_dir=tmp_path, extra={"config": {"lr": 1.0},
                                                        "warnings": ["RepBend diverged: ..."]})
    assert row_extra(adapter) == {"warnings": ["RepBend diverged: ..."]}
    assert row_extra(dataclasses.replace(adapter, extra={"config": {}, "warnings": []})) == {}
    assert row_extra(None) == {}
    warned = [rows[0], dataclasses.replace(row, method="repbend", extra=row_extra(adapter))]
    assert render_build_warnings(warned).splitlines()[1] == "- **repbend**: RepBend diverged: ..."
    assert render_build_warnings(rows[:1]).endswith("none.")
