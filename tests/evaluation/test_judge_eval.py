from __future__ import annotations

import torch

from harc.data.labels import LabelledSample, LabelSet
from harc.evaluation import judge_eval
from harc.judges.probe_features import FeatureSpec, capture_features
from harc.models.loading import LoadedModel
from tests.tiny import tiny_model, tiny_tokenizer

SPEC = FeatureSpec(max_response_tokens=6)


def _set(pairs: list[tuple[str, str]]) -> LabelSet:
    return LabelSet("jbb", "t", [LabelledSample(g, g, r, True, None, g) for g, r in pairs])


def test_feature_cache_reuses_rows_and_runs_only_new_pairs(monkeypatch) -> None:
    loaded = LoadedModel(tiny_model("qwen2"), tiny_tokenizer(), "tiny", "tiny", torch.float32,
                         torch.device("cpu"))
    first = [("Hello", "Sure, here is how."), ("Write a poem", "The sea is wide.")]
    second = [first[1], ("Bake bread", "I'm sorry, but I can't.")]
    calls: list[int] = []

    def counting(model, tokenizer, pairs, spec, **kwargs):
        calls.append(len(pairs))
        return capture_features(model, tokenizer, pairs, spec, **kwargs)

    monkeypatch.setattr(judge_eval, "capture_features", counting)
    a, index = judge_eval.probe_features(loaded, [_set(first)], SPEC, progress=False)
    b, _ = judge_eval.probe_features(loaded, [_set(second)], SPEC, progress=False)
    both, _ = judge_eval.probe_features(loaded, [_set(first), _set(second)], SPEC,
                                        progress=False)
    assert calls == [2, 1]  # the shared pair was not run again, the union not at all
    assert index == {slot: slot for slot in range(4)}
    direct = capture_features(loaded.model, loaded.tokenizer, first + second, SPEC,
                              progress=False)
    for name, values in direct.items():
        torch.testing.assert_close(both[name], values, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(b[name][0], a[name][1])
