from __future__ import annotations

from harc.jobs import fingerprint, load_record, save_record


def test_fingerprint_is_canonical():
    assert fingerprint({"b": 1, "a": [1, 2]}) == fingerprint({"a": [1, 2], "b": 1})
    assert fingerprint(1) != fingerprint("1") and len(fingerprint()) == 64


def test_records_are_reused_only_with_the_same_inputs(tmp_path, caplog):
    path = tmp_path / "job" / "record.json"
    assert load_record(path) is None
    save_record(path, {"fingerprint": "abc", "value": 3})
    assert load_record(path, "abc") == {"fingerprint": "abc", "value": 3}
    assert load_record(path, "other") is None
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]  # no staging left
    path.write_text('{"fingerprint": "abc", "val')  # a partial write from another tool
    assert load_record(path, "abc") is None and "unreadable" in caplog.text
    path.write_text("[1, 2]")
    assert load_record(path) is None
