from __future__ import annotations

import gzip
import json

import pytest

from harc.evaluation.benchmarks import humaneval
from harc.evaluation.benchmarks.humaneval import HumanEvalItem
from harc.evaluation.benchmarks.sandbox import run_program
from tests.evaluation.fakes import SETTINGS, FakeGenerator

ADD = HumanEvalItem(
    task_id="Test/0",
    prompt='from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add."""\n',
    entry_point="add",
    canonical_solution="    return a + b\n",
    test="def check(f):\n    assert f(2, 3) == 5\n    assert f(-1, 1) == 0\n",
)


def test_correct_sample_passes():
    result = humaneval.check_completion(ADD, "```python\ndef add(a, b):\n    return a + b\n```")
    assert result.passed and result.status == "passed"


def test_body_continuation_passes_and_wrong_sample_fails():
    assert humaneval.check_completion(ADD, "    return a + b\n").passed
    wrong = humaneval.check_completion(ADD, "```python\ndef add(a, b):\n    return a - b\n```")
    assert wrong.status == "failed" and "AssertionError" in wrong.stderr


def test_infinite_loop_is_killed_and_fails():
    looping = "```python\ndef add(a, b):\n    while True:\n        pass\n```"
    result = humaneval.check_completion(ADD, looping, timeout=1.0)
    assert result.status == "timeout" and not result.passed


def test_writing_outside_the_sandbox_fails_and_creates_nothing(tmp_path):
    target = tmp_path / "escaped.txt"
    code = (
        "```python\nimport os\n"
        "def add(a, b):\n"
        f"    open({str(target)!r}, 'w').write('x')\n"
        "    return a + b\n```"
    )
    result = humaneval.check_completion(ADD, code)
    assert not result.passed and "PermissionError" in result.stderr
    assert not target.exists()
    via_os = f"import os\nfd = os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)\n"
    assert not run_program(via_os).passed
    assert not target.exists()


def test_guard_blocks_processes_sockets_and_rmtree(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    for program in (
        "import subprocess\nsubprocess.Popen(['true'])",
        "import os\nos.system('true')",
        "import socket\nsocket.socket()",
        f"import shutil\nshutil.rmtree({str(keep)!r})",
    ):
        result = run_program(program)
        assert not result.passed and "PermissionError" in result.stderr
    assert keep.exists()


def test_early_exit_does_not_count_as_pass():
    assert not run_program("import sys\nsys.exit(0)\nassert False").passed
    assert not run_program("import os\nos._exit(0)").passed
    inside = run_program(
        "open('scratch.txt', 'w').write('ok')\nassert open('scratch.txt').read() == 'ok'"
    )
    assert inside.passed


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (
            "Here:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.",
            "def add(a, b):\n    return a + b\n",
        ),
        (
            "```\nx = 1\n```\n```python\ndef add(a, b):\n    return 0\n```",
            "def add(a, b):\n    return 0\n",
        ),
        ("```py\ndef add(a, b):\n    return 1", "def add(a, b):\n    return 1"),
        ("    return a + b\n", "    return a + b\n"),
    ],
)
def test_extract_code(completion, expected):
    assert humaneval.extract_code(completion, "add") == expected


def test_run_reports_pass_at_1(tmp_path):
    path = tmp_path / "HumanEval.jsonl.gz"
    rows = [ADD.__dict__, {**ADD.__dict__, "task_id": "Test/1"}]
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    assert [i.task_id for i in humaneval.load_humaneval(path)] == ["Test/0", "Test/1"]
    answers = iter(["```python\ndef add(a, b):\n    return a + b\n```", "def add(a, b): return 0"])
    result = humaneval.run(FakeGenerator(lambda _p: next(answers)), path=path, settings=SETTINGS)
    assert [s.verdict for s in result.samples] == ["passed", "failed"]
    assert result.score == 0.5 and result.n == 2 and result.primary == "pass@1"
