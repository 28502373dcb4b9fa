"""Run under ``torchrun --nproc_per_node N``: train circuit breakers on the tiny model saved at
argv[1] and the shared tiny data, into argv[2]. Every rank writes ``rank-R.json`` (world size
and a digest of its trained LoRA weights, to show the ranks stayed identical). With argv[3] ==
"nan", rank 1 alone gets a NaN loss at step 2: every rank must stop with the same error."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from accelerate import PartialState

import harc.methods  # noqa: F401  (registers the methods)
from harc.errors import HarcError
from harc.methods.circuit_breakers import CircuitBreakersLoss
from harc.methods.registry import get_method, method_config
from harc.models import load_model
from harc.training.distributed import finish
from tests.methods.helpers import tiny_data

CB = {"lora": {"r": 2, "alpha": 4, "dropout": 0.0}, "lr": 1e-2, "max_steps": 2, "batch_size": 1,
      "max_length": 64, "target_layers": [2], "grad_accum": 1}


def main() -> None:
    model_dir, out = sys.argv[1], Path(sys.argv[2])
    nan = len(sys.argv) > 3 and sys.argv[3] == "nan"
    torch.manual_seed(0)
    loaded = load_model(model_dir, dtype="float32", device="cpu")
    state = PartialState(cpu=True)
    if nan:
        original = CircuitBreakersLoss.__call__

        def poisoned(self, model, step, micro):  # type: ignore[no-untyped-def]
            terms = original(self, model, step, micro)
            if step == 2 and state.process_index == 1:
                terms["loss"] = terms["loss"] * float("nan")
            return terms

        CircuitBreakersLoss.__call__ = poisoned  # type: ignore[method-assign]
    import harc.methods.loop as loop

    digests: list[str] = []

    class Recording(loop.LoraOptimization):  # type: ignore[misc, valid-type]
        def step(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            result = super().step(*args, **kwargs)
            digest = hashlib.sha256()
            for parameter in self.parameters:  # this rank's trained LoRA weights
                digest.update(parameter.detach().numpy().tobytes())
            digests.append(digest.hexdigest())
            return result

    loop.LoraOptimization = Recording  # type: ignore[misc]
    try:
        output = get_method("circuit_breakers").run(
            loaded, tiny_data(), out, method_config("circuit_breakers", **CB), progress=False)
    except HarcError as error:
        record = {"error": str(error).split(":")[0]}
        failed = True
    else:
        record = {"lora_digest": digests[-1], "saved": str(output.adapter_dir)}
        failed = False
    record["world_size"] = state.num_processes
    (out / f"rank-{state.process_index}.json").write_text(json.dumps(record))
    finish(wait=not failed)


if __name__ == "__main__":
    main()
