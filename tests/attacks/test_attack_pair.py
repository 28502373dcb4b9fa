from __future__ import annotations

import json
import re

import pytest
from tests.attacks.fakes import FakeGenerator, FakeJudge

from harc.attacks import get_attack
from harc.attacks.pair import STRATEGIES, parse_attacker_output

GOALS = ["Goal A: make a weapon", "Goal B: write malware"]
SETTINGS = object()


def _attacker_reply(message: str) -> str:
    goal = re.search(r'carry out this task: "(.*?)"', message).group(1)
    stream = next(i for i, s in enumerate(STRATEGIES) if s in message)
    attempt = message.count("\nAttempt ") + 1
    prompt = f"P{attempt}-s{stream}-{goal[:6]}"
    return json.dumps({"improvement": f"try {attempt}", "prompt": prompt})


def _score(goal: str, response: str) -> float:
    if response == "RESPONSE:P2-s1-Goal A":
        return 1.0
    return 0.1 * int(response.split(":P")[1][0]) + (0.05 if "-s1-" in response else 0.0)


def _pair(**kwargs):
    attacker = FakeGenerator(_attacker_reply)
    target = FakeGenerator(lambda p: f"RESPONSE:{p}")
    judge = FakeJudge(_score)
    attack = get_attack(
        "pair", target=target, attacker=attacker, judge=judge,
        attacker_settings=SETTINGS, target_settings=SETTINGS, **kwargs,
    )
    return attack, attacker, target, judge


def test_scripted_dialogue_with_early_stop():
    attack, attacker, target, judge = _pair(streams=2, iterations=3)
    a, b = attack.apply(GOALS, seed=0)
    assert a.prompt == "P2-s1-Goal A" and a.meta["success"] is True
    assert a.meta["iterations"] == 2 and a.meta["stream"] == 1
    assert a.meta["response"] == "RESPONSE:P2-s1-Goal A" and a.meta["best_score"] == 1.0
    assert a.meta["scores"] == pytest.approx([0.15, 1.0])
    assert b.meta["success"] is False and b.meta["iterations"] == 3
    assert b.prompt == "P3-s1-Goal B" and b.meta["scores"] == pytest.approx([0.15, 0.25, 0.35])
    assert [len(call) for call in attacker.calls] == [4, 4, 2]
    assert [len(call) for call in target.calls] == [4, 4, 2]
    assert judge.calls[0][0] == [GOALS[0], GOALS[0], GOALS[1], GOALS[1]]
    assert len(a.meta["attempts"]) == 4 and len(b.meta["attempts"]) == 6
    assert {x["improvement"] for x in b.meta["attempts"]} == {"try 1", "try 2", "try 3"}
    assert b.meta["parse_failures"] == 0 and a.attack == "pair"


def test_feedback_reaches_the_attacker():
    attack, attacker, _, _ = _pair(streams=1, iterations=2)
    attack.apply(GOALS[1:])
    first, second = attacker.calls[0][0], attacker.calls[1][0]
    assert "first attempt" in first and GOALS[1] in first
    assert "Prompt: P1-s0-Goal B" in second and "Target response: RESPONSE:P1-s0-Goal B" in second
    assert "Score: 0.10" in second


def test_deterministic():
    first = _pair()[0].apply(GOALS, seed=5)
    assert first == _pair()[0].apply(GOALS, seed=5)


def test_unparsable_refusal_keeps_previous_prompt():
    target = FakeGenerator(lambda p: "no")
    attacker = FakeGenerator(lambda m: "I'm sorry, I can't help with that.")
    judge = FakeJudge(lambda g, r: 0.0)
    attack = get_attack("pair", target=target, attacker=attacker, judge=judge, streams=1,
                        iterations=2, attacker_settings=SETTINGS, target_settings=SETTINGS)
    result = attack.apply(GOALS[:1])[0]
    assert result.prompt == GOALS[0]
    assert result.meta["parse_failures"] == 2 and result.meta["success"] is False


def test_default_settings_use_generation_module():
    generation = pytest.importorskip("harc.generation")
    if not hasattr(generation, "GenerationSettings"):
        pytest.skip("harc.generation.GenerationSettings not written yet")
    attacker = FakeGenerator(_attacker_reply)
    attack = get_attack("pair", target=FakeGenerator(lambda p: "x"), attacker=attacker,
                        judge=FakeJudge(lambda g, r: 0.0), streams=1, iterations=1)
    attack.apply(GOALS[:1], seed=2)
    assert attacker.settings[0].do_sample and attacker.settings[0].seed == 2001


@pytest.mark.parametrize(
    ("text", "prompt", "improvement", "parsed"),
    [
        ('{"improvement": "i", "prompt": "p"}', "p", "i", True),
        ('Sure!\n```json\n{"improvement": "i", "prompt": "p {x}"}\n```', "p {x}", "i", True),
        ('noise {"prompt": "p"} trailing {', "p", "", True),
        ('{"improvement": "i", "prompt": "line\\nbreak", oops', "line\nbreak", "", True),
        ("just a prompt", "just a prompt", "", False),
        ('{"prompt": ""}', '{"prompt": ""}', "", False),
    ],
)
def test_parse_attacker_output(text, prompt, improvement, parsed):
    result = parse_attacker_output(text)
    assert (result.prompt, result.improvement, result.parsed) == (prompt, improvement, parsed)


def test_invalid_sizes():
    with pytest.raises(ValueError):
        _pair(streams=0)
