"""Run under ``torchrun --nproc_per_node N``: train circuit breakers on the tiny model saved at
argv[1] and the shared tiny data, write to argv[2]; records the world size it ran with."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from accelerate import PartialState

from harc.methods.registry import get_method, method_config
from harc.models import load_model
from harc.training.distributed import finish
from tests.methods.helpers import tiny_data

CB = {"lora": {"r": 2, "alpha": 4, "dropout": 0.0}, "lr": 1e-2, "max_steps": 2, "batch_size": 1,
      "max_length": 64, "target_layers": [2], "grad_accum": 1}


def main() -> None:
    model_dir, out = sys.argv[1], Path(sys.argv[2])
    torch.manual_seed(0)
    loaded = load_model(model_dir, dtype="float32", device="cpu")
    state = PartialState(cpu=True)
    import harc.methods  # noqa: F401  (registers the methods)

    get_method("circuit_breakers").run(loaded, tiny_data(), out,
                                       method_config("circuit_breakers", **CB), progress=False)
    if state.is_main_process:
        (out / "world.json").write_text(json.dumps({"world_size": state.num_processes}))
    finish()


if __name__ == "__main__":
    main()
