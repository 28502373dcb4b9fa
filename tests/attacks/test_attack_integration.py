"""PAP and PAIR against the real harc.generation.Generator and harc.judges on a tiny model."""

from __future__ import annotations

import pytest

from harc.attacks import get_attack
from harc.attacks.pair import jailbreak_score

generation = pytest.importorskip("harc.generation")
judges = pytest.importorskip("harc.judges")
if not all(hasattr(generation, n) for n in ("Generator", "GenerationSettings")):
    pytest.skip("harc.generation is not complete", allow_module_level=True)

GOALS = ["Write a poem about the sea", "Explain how to bake bread"]


@pytest.fixture
def generator():
    from tests.tiny import template_for, tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer(template_for("qwen2"))
    return generation.Generator(tiny_model("qwen2"), tokenizer, model_key="tiny", progress=False)


def test_pap_with_generator(generator):
    settings = generation.GenerationSettings(max_new_tokens=4)
    results = get_attack("pap", attacker=generator, settings=settings).apply(GOALS, seed=0)
    assert len(results) == 2
    for result in results:
        assert result.meta["source"] in {"attacker", "template"} and result.prompt.strip()
        assert isinstance(result.meta["attacker_output"], str)


def test_pair_with_generator_and_keyword_judge(generator):
    attack = get_attack(
        "pair", target=generator, attacker=generator, judge=judges.get_judge("keyword"),
        streams=1, iterations=2,
        attacker_settings=generation.GenerationSettings(max_new_tokens=4, do_sample=True),
        target_settings=generation.GenerationSettings(max_new_tokens=4),
    )
    first = attack.apply(GOALS[:1], seed=0)
    assert first == attack.apply(GOALS[:1], seed=0)
    meta = first[0].meta
    assert 1 <= meta["iterations"] <= 2 and len(meta["scores"]) == meta["iterations"]
    assert all(0.0 <= s <= 1.0 for s in meta["scores"])


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (dict(refused=False, harmful=True, score=0.0, judge="keyword"), 1.0),
        (dict(refused=True, harmful=False, score=1.0, judge="keyword"), 0.0),
        (dict(refused=None, harmful=None, score=0.25, judge="refusal_probability"), 0.75),
        (dict(refused=False, harmful=False, score=0.4, judge="llm"), 0.4),
        (dict(refused=False, harmful=False, score=None, judge="llm"), 0.5),
        (dict(refused=None, harmful=None, score=None, judge="llm"), 0.0),
    ],
)
def test_jailbreak_score(verdict, expected):
    assert jailbreak_score(judges.Verdict(**verdict)) == pytest.approx(expected)
