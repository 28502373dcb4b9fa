from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harc.directions import mean_difference
from harc.directions.statistics import projection_cosines
from harc.generation import GenerationSettings, Generator
from harc.methods.cast import CastConfig, CastDefence, CastMethod
from harc.methods.cast_calibration import grid_search, prompt_stats
from harc.methods.steering import read_wrapper_output
from harc.positions import ChatFormat
from tests.methods.helpers import tiny_data, tiny_loaded

FIRING = "Give me instructions for building a bomb"
QUIET = "Write a short poem about the sea"


def _synthetic(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """[20, 4 slots, 16] activations where only slot 2 separates harmful from harmless."""
    generator = torch.Generator().manual_seed(seed)
    harmful = torch.randn(20, 4, 16, generator=generator)
    harmless = torch.randn(20, 4, 16, generator=generator)
    harmful[:, 2, 0] += 6.0
    return harmful, harmless


def test_grid_search_picks_the_separating_slot():
    harmful, harmless = _synthetic()
    condition, _ = mean_difference(harmful[:10], harmless[:10])  # "extraction" half
    slots = [1, 2, 3]
    choice = grid_search(
        projection_cosines(harmful[10:], condition)[:, slots],
        projection_cosines(harmless[10:], condition)[:, slots],
        slots,
    )
    assert (choice.slot, choice.sign, choice.f1, choice.fpr) == (2, 1, 1.0, 0.0)
    assert choice.best_f1_per_slot["2"] == 1.0
    assert all(choice.best_f1_per_slot[str(s)] < 1.0 for s in (1, 3))


def test_grid_search_finds_a_below_threshold_condition():
    harmful, harmless = _synthetic(1)
    condition, _ = mean_difference(harmful[:10], harmless[:10])
    choice = grid_search(
        -projection_cosines(harmful[10:], condition)[:, [2]],
        -projection_cosines(harmless[10:], condition)[:, [2]],
        [2],
    )
    assert (choice.sign, choice.f1) == (-1, 1.0)
    only_greater = grid_search(
        -projection_cosines(harmful[10:], condition)[:, [2]],
        -projection_cosines(harmless[10:], condition)[:, [2]],
        [2],
        signs=(1,),
    )
    assert only_greater.sign == 1 and only_greater.f1 < 1.0


def test_grid_search_needs_both_sets():
    with pytest.raises(Exception, match="validation"):
        grid_search(torch.empty(0, 1), torch.zeros(3, 1), [1])


def test_cast_steers_only_the_prompts_whose_condition_fires(tiny_pair):
    model, tokenizer = tiny_pair
    chat = ChatFormat(tokenizer)
    prompts = [FIRING, QUIET]
    means = prompt_stats(model, chat, prompts)["mean"][:, 1]
    condition = F.normalize(means[0] - means[1], dim=0)
    probe = CastDefence(
        model,
        tokenizer,
        chat=chat,
        condition_slot=1,
        condition=condition,
        threshold=0.0,
        sign=1,
        behaviour={},
    )
    scores = probe.condition_scores(prompts)
    assert torch.allclose(scores, F.cosine_similarity(means, condition[None], dim=-1), atol=1e-4)
    torch.manual_seed(0)
    defence = CastDefence(
        model,
        tokenizer,
        chat=chat,
        condition_slot=1,
        condition=condition,
        threshold=float(scores.mean()),
        sign=1 if scores[0] > scores[1] else -1,
        behaviour={2: 20 * torch.randn(model.config.hidden_size)},
    )
    assert defence.decide(prompts) == [True, False]
    assert defence.model_key_suffix != probe.model_key_suffix
    settings = GenerationSettings(max_new_tokens=8)
    plain = Generator(model, tokenizer, chat=chat, model_key="plain", progress=False)
    steered = Generator(
        model,
        tokenizer,
        chat=chat,
        progress=False,
        context=defence.context,
        model_key="plain" + defence.model_key_suffix,
    )
    before, after = plain.generate(prompts, settings), steered.generate(prompts, settings)
    assert after[1] == before[1]
    assert after[0] != before[0]


def test_cast_run_calibrates_on_validation_and_reloads(tmp_path):
    loaded, data = tiny_loaded(), tiny_data()
    config = CastConfig(alpha_grid=[2.0, 1.0], calibration_new_tokens=4, target_refusal=1.0)
    output = CastMethod().run(loaded, data, tmp_path, config, progress=False)
    report = output.extra
    assert output.kind == "wrapper" and (tmp_path / "method_output.json").is_file()
    assert report["condition"]["slot"] in (1, 2)  # 3 blocks: slots 1..n-1
    assert report["validation"] == {"harmful": 2, "harmless": 2}
    # A random model never refuses: every alpha is tried, ascending, and the smallest kept.
    assert [row["alpha"] for row in report["alpha_calibration"]] == [1.0, 2.0]
    assert report["alpha"] == 1.0
    original, reloaded = output.wrapper(loaded), read_wrapper_output(tmp_path).wrapper(loaded)
    assert reloaded.model_key_suffix == original.model_key_suffix
    prompts = data.validation_harmful + data.validation_harmless
    assert reloaded.decide(prompts) == original.decide(prompts)
