"""bfloat16 against float32 on the tiny models: what ``--dtype auto`` changes, within stated
tolerances. The same checks on the embedded model: ``benchmarks/dtype_agreement.py``.

Tolerances, about 3x the largest gap measured on these models (in brackets):
- cos(v_harm, v_ref) of the extracted directions, per slot: 0.02 absolute (0.006);
- held-out AUROC along v_harm, per slot: 0.05 (0.014, i.e. two of 144 pairs swapped);
- HARC loss terms over 4 training steps: 2% of the fp32 value + 0.002 (0.6%);
- greedy answers: the bf16 answers share at least half of their characters (prefix) with fp32.
Each check also asserts that the two dtypes differ somewhere, so it compares two real runs.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

from harc.activations import capture_prompts
from harc.data import builtin_prompts
from harc.directions import extract_prompt_directions
from harc.directions.statistics import separation
from harc.generation import GenerationSettings, Generator
from harc.models.loading import LoadedModel
from harc.positions import ChatFormat
from harc.training.harc import HarcTrainer
from tests.tiny import template_for, tiny_model, tiny_tokenizer
from tests.training.test_trainer import _config, _data

COS_TOLERANCE = 0.02
AUROC_TOLERANCE = 0.05
LOSS_RELATIVE, LOSS_ABSOLUTE = 0.02, 0.002


def _prompts(kind: str, split: str, n: int) -> list[str]:
    return [prompt.text for prompt in builtin_prompts(kind, split)][:n]


@pytest.mark.parametrize("arch", ["qwen2", "llama", "gemma2"])
def test_directions_and_heldout_auroc_agree_across_dtypes(arch: str, tmp_path) -> None:
    tokenizer = tiny_tokenizer(template_for(arch))
    chat = ChatFormat(tokenizer)
    fp32 = tiny_model(arch, num_layers=4)
    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    train = _prompts("harmful", "train", 12), _prompts("harmless", "train", 12)
    held = _prompts("harmful", "heldout", 12), _prompts("harmless", "heldout", 12)
    found = {}
    for name, model in (("fp32", fp32), ("bf16", bf16)):
        directions, _ = extract_prompt_directions(model, chat, *train, progress=False)
        harmful, harmless = (capture_prompts(model, chat, texts, progress=False) for texts in held)
        cos = (directions.harm * directions.refusal).sum(-1)
        auroc = separation(harmful["t_inst"], harmless["t_inst"], directions.harm).auroc
        found[name] = cos, torch.as_tensor(auroc)
    assert not torch.equal(found["fp32"][0], found["bf16"][0].to(found["fp32"][0].dtype))
    for index, tolerance in ((0, COS_TOLERANCE), (1, AUROC_TOLERANCE)):
        gap = (found["fp32"][index].float() - found["bf16"][index].float()).abs()
        gap = gap[~gap.isnan()]
        assert float(gap.max()) <= tolerance, (index, gap)


def test_harc_loss_curve_agrees_across_dtypes(tmp_path) -> None:
    logs = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        loaded = LoadedModel(tiny_model("qwen2", num_layers=4).to(dtype), tiny_tokenizer(),
                             "tiny", "memory", dtype, torch.device("cpu"))
        out = tmp_path / name
        HarcTrainer(loaded, _config(max_steps=4), _data(), out, progress=False).run()
        lines = (out / "train_log.jsonl").read_text().splitlines()
        logs[name] = [json.loads(line) for line in lines]
    assert len(logs["fp32"]) == len(logs["bf16"]) == 4
    assert [row["total"] for row in logs["fp32"]] != [row["total"] for row in logs["bf16"]]
    for fp32_row, bf16_row in zip(logs["fp32"], logs["bf16"], strict=True):
        for term in ("couple", "couple_resp", "ce", "kl", "total"):
            expected = fp32_row[term]
            assert bf16_row[term] == pytest.approx(
                expected, rel=LOSS_RELATIVE, abs=LOSS_ABSOLUTE), (fp32_row["step"], term)


def test_greedy_answers_mostly_agree_across_dtypes(tmp_path) -> None:
    tokenizer = tiny_tokenizer(template_for("qwen2"))
    fp32 = tiny_model("qwen2", num_layers=4)
    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    prompts = _prompts("harmless", "heldout", 8)
    settings = GenerationSettings(max_new_tokens=12, batch_size=4)
    answers = [
        Generator(model, tokenizer, cache_dir=tmp_path / name, progress=False).generate(
            prompts, settings)
        for name, model in (("fp32", fp32), ("bf16", bf16))
    ]
    shares = []
    for reference, other in zip(*answers, strict=True):
        common = next((i for i, (a, b) in enumerate(zip(reference, other, strict=False))
                       if a != b), min(len(reference), len(other)))
        shares.append(1.0 if reference == other else common / max(len(reference), 1))
    assert sum(shares) / len(shares) >= 0.5, shares
