from __future__ import annotations

import numpy as np
import pytest
import torch

from harc.activations import capture_prompts
from harc.analysis import (
    AnalysisError,
    capture_pairs,
    fit_response_axis,
    plane_points,
    recognition,
)
from harc.analysis.response import crosses
from harc.models import find_decoder_blocks
from harc.positions import ChatFormat
from tests.analysis.synthetic import directions, make_classes

D = 8


def _answers(offset: torch.Tensor, n: int, length: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    base = torch.zeros(D)
    base[7] = 5.0
    return [base + offset + 0.1 * torch.randn(length, D, generator=generator)
            for _ in range(n)]


def _unit(index: int, scale: float = 1.0) -> torch.Tensor:
    vector = torch.zeros(D)
    vector[index] = scale
    return vector


def _axis():
    harmful = _answers(_unit(0, 2.0), 12, 10, 1)
    helpful = _answers(torch.zeros(D), 12, 10, 2)
    refusal = _answers(_unit(1, 2.0), 12, 10, 3)
    return fit_response_axis(harmful, helpful, refusal, slot=2, window=8, folds=4)


def test_response_axis_recovers_the_harm_direction():
    axis = _axis()
    assert float(axis.direction[0]) > 0.99
    assert float(axis.refusal_direction[1]) > 0.99
    assert axis.folds == 4 and axis.separates
    assert axis.helpful_mean < axis.midpoint < axis.harmful_mean
    assert axis.refusal_mean == pytest.approx(axis.helpful_mean, abs=0.05)
    assert axis.summary()["cos_harm_resp_ref_resp"] == pytest.approx(0.0, abs=0.1)


def test_recognition_counts_hidden_harm():
    axis = _axis()
    # direct at (1, 1); 'hidden' attacks look harmless at the prompt (harm ~ 0).
    points = plane_points(make_classes({"hidden": (0.0, 1.0)}, n=4), directions(), slot=2,
                          measure="dot")
    labels = points.labels  # 4 harmless, 4 direct, 4 hidden
    harmful_answer = _answers(_unit(0, 2.0), 1, 6, 9)[0]
    helpful_answer = _answers(torch.zeros(D), 1, 6, 8)[0]
    tokens, success = [], []
    for i, label in enumerate(labels):
        if label == "harmless":
            tokens.append(helpful_answer)
            success.append(True)
        elif label == "hidden":
            # 3 of 4 succeed; 2 of those answers look harmful.
            tokens.append(harmful_answer if i % 4 < 2 else helpful_answer)
            success.append(i % 4 < 3)
        else:
            tokens.append(torch.zeros(0, D))
            success.append(False)
    result = recognition(axis, points, success, tokens)
    assert result.n_success == 3
    assert result.n_success_prompt_harmless == 3
    assert result.n_hidden == {"any_token": 2, "window_mean": 2}
    assert result.fraction("any_token") == pytest.approx(2 / 3)
    assert result.fraction_of_prompt_harmless("window_mean") == pytest.approx(2 / 3)
    for rule in ("any_token", "window_mean"):
        assert result.rates[rule]["helpful (harmless prompts)"] == 0.0
        assert result.rates[rule]["jailbroken"] == pytest.approx(2 / 3)
    assert result.auroc["jailbroken vs helpful"] == pytest.approx(5 / 6)
    assert result.summary()["fraction"]["window_mean"] == pytest.approx(2 / 3)
    assert result.curves["jailbroken"]["count"][0] == 3
    # Refused: 4 direct prompts with empty answers and 1 hidden one; only the latter has tokens.
    assert result.curves["attacked, refused"]["count"][0] == 1


def test_crossing_rules_differ_on_a_single_spike():
    trace = np.array([0.0, 0.0, 1.0, 0.0])
    assert crosses(trace, 0.5, window=4, rule="any_token")
    assert not crosses(trace, 0.5, window=4, rule="window_mean")
    assert not crosses(trace, 0.5, window=2, rule="any_token")  # the spike is past the window
    assert not crosses(np.zeros(0), 0.5, window=4, rule="any_token")
    with pytest.raises(AnalysisError, match="unknown crossing rule"):
        crosses(trace, 0.5, window=4, rule="median")


def test_degenerate_response_inputs():
    same = _answers(torch.zeros(D), 4, 5, 1)
    with pytest.raises(AnalysisError, match="zero mean gap"):
        fit_response_axis(same, same, _answers(_unit(1), 4, 5, 2), slot=0)
    with pytest.raises(AnalysisError, match="no harmful reference"):
        fit_response_axis([], same, same, slot=0)
    with pytest.raises(AnalysisError, match="have no tokens"):
        fit_response_axis([torch.zeros(0, D)], same, same, slot=0)


def test_no_success_gives_an_undefined_fraction():
    axis = _axis()
    points = plane_points(make_classes({}, n=3), directions(), slot=2)
    result = recognition(axis, points, [False] * 6, [torch.zeros(0, D)] * 6)
    assert result.fraction() is None and result.n_success == 0
    assert result.auroc["jailbroken vs helpful"] is None
    with pytest.raises(AnalysisError):
        recognition(axis, points, [False], [torch.zeros(0, D)])


def test_capture_pairs_matches_prompt_capture(tiny_pair):
    model, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    pairs = [("Write a short poem about the sea.", "Sure, here is a poem about the sea and sky"),
             ("Explain how to bake bread.", ""),
             ("Give me instructions for hacking.", "I cannot help with that request at all")]
    n_blocks = len(find_decoder_blocks(model))
    got = capture_pairs(model, chat, pairs, token_slot=1, position_slots=(1, n_blocks),
                        max_tokens=5, batch_size=2, progress=False)
    ref = capture_prompts(model, chat, [p for p, _ in pairs], slots=(1, n_blocks),
                          progress=False)
    torch.testing.assert_close(got.t_inst, ref["t_inst"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got.t_post, ref["t_post"], atol=1e-4, rtol=1e-4)
    assert [t.shape[0] for t in got.tokens] == [5, 0, 5]
    assert got.tokens[0].shape[1] == model.config.hidden_size
    # Hooks are gone: a plain forward pass runs to the logits.
    assert model(input_ids=torch.tensor([[3, 4]])).logits.shape[-1] == len(tokenizer)
    for block in find_decoder_blocks(model):
        assert not block._forward_pre_hooks and not block._forward_hooks


def test_answer_tokens_depend_only_on_the_answer_prefix(tiny_pair):
    model, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    prompt = "Write a short poem about the sea."
    long = capture_pairs(model, chat, [(prompt, "Sure, here is a poem about the sea")],
                         token_slot=2, max_tokens=3, progress=False)
    short = capture_pairs(model, chat, [(prompt, "Sure, here is")], token_slot=2,
                          max_tokens=3, progress=False)
    np.testing.assert_allclose(long.tokens[0].numpy(), short.tokens[0].numpy(), atol=1e-5)


def test_capture_rejects_bad_slots(tiny_pair):
    model, tokenizer = tiny_pair
    with pytest.raises(AnalysisError, match="slots must lie"):
        capture_pairs(model, ChatFormat(tokenizer), [("a b", "c")], token_slot=99)
    with pytest.raises(AnalysisError, match="no \\(prompt"):
        capture_pairs(model, ChatFormat(tokenizer), [], token_slot=0)
