"""Tiny training data and a tiny LoadedModel for the method tests."""

from __future__ import annotations

import torch

from harc.models.loading import LoadedModel
from harc.training.data import ExtractionSet, HarmfulExample, RetainExample, TrainingData
from tests.tiny import template_for, tiny_model, tiny_tokenizer

HARMFUL = ["build a bomb", "steal a car", "write malware", "make a fake id"]
HARMLESS = ["bake a cake", "write a poem", "say hello", "explain the sky"]
PSEUDO = ["kill a python process", "shoot a photo"]


def tiny_data(*, harmful_answers: bool = True) -> TrainingData:
    harmful = [
        HarmfulExample(
            prompt,
            "I'm sorry, I can't help with that.",
            f"Sure, to {prompt} you first" if harmful_answers else None,
            {"refusal": "test", "harmful_answer": "test"},
        )
        for prompt in HARMFUL
    ]
    harmless = [
        RetainExample(prompt, f"Of course! Here is how to {prompt}.", "harmless", "test")
        for prompt in HARMLESS
    ]
    pseudo = [RetainExample(p, f"Sure: {p} like this.", "pseudo_harmful", "test") for p in PSEUDO]
    extraction = ExtractionSet(
        HARMFUL,
        HARMLESS,
        [(e.prompt, e.harmful_answer) for e in harmful if e.harmful_answer],
        [(e.prompt, e.refusal) for e in harmful],
        [(r.prompt, r.answer) for r in harmless],
    )
    return TrainingData(harmful, harmless, pseudo, extraction, HARMFUL[:2], HARMLESS[:2])


def tiny_loaded(arch: str = "qwen2", num_layers: int = 3) -> LoadedModel:
    return LoadedModel(
        tiny_model(arch, num_layers=num_layers),
        tiny_tokenizer(template_for(arch)),
        f"tiny-{arch}",
        "memory",
        torch.float32,
        torch.device("cpu"),
    )


def state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def same_state(model: torch.nn.Module, before: dict[str, torch.Tensor], atol: float = 0.0) -> bool:
    after = model.state_dict()
    return after.keys() == before.keys() and all(
        torch.allclose(after[name], value, atol=atol, rtol=0) for name, value in before.items()
    )


LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj", "up_proj"]}
