from __future__ import annotations

import json

import pytest

from harc.errors import HarcError
from harc.methods.loop import end_check, final_term


def test_final_term_is_the_mean_of_the_last_tenth_of_the_logged_steps(tmp_path):
    log = tmp_path / "train_log.jsonl"
    values = [1.0] * 18 + [0.5, 0.3]
    log.write_text(
        "".join(json.dumps({"step": k, "rerouting": v}) + "\n" for k, v in enumerate(values, 1))
    )
    assert final_term(log, "rerouting") == pytest.approx(0.4)
    log.write_text(json.dumps({"step": 1, "rerouting": 0.7}) + "\n")
    assert final_term(log, "rerouting") == pytest.approx(0.7)
    log.write_text("")
    with pytest.raises(HarcError, match="no logged steps"):
        final_term(log, "rerouting")


def test_end_check_warns_only_when_the_term_ended_above_its_limit(tmp_path, caplog):
    log = tmp_path / "train_log.jsonl"
    log.write_text("".join(json.dumps({"step": k, "kl": k / 10}) + "\n" for k in range(1, 21)))
    message = "ended at {value:.2f} over the last {tail} steps (unsafe {unsafe})"
    assert end_check(log, "kl", 2.0, message, unsafe=3) == (pytest.approx(1.95), [])
    assert not caplog.records
    _, warnings = end_check(log, "kl", 1.0, message, unsafe=3)
    assert warnings == ["ended at 1.95 over the last 2 steps (unsafe 3)"]
    assert warnings[0] in caplog.text
