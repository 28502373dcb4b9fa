"""What the training loops need to run the same on one process or several (``torchrun`` or
``accelerate launch``, one rank per device): the Accelerator for a loaded model, the
main-process rule for writes, gradients averaged over ranks, loss terms averaged over ranks
for the log, and a non-finite loss on any rank stopping every rank together.

Gradients are averaged with one explicit all-reduce of the LoRA gradients after the
accumulation, instead of wrapping the model in DDP: the own-loss methods run truncated
forwards through hooks (parameters after the deepest hooked block get no gradient, which DDP
rejects unless it searches for unused parameters every step) and call the unwrapped model, and
LoRA gradients are a few MB, so one reduction per step costs little and makes the update equal,
by construction, to the single-process update over the union of every rank's rows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedType

from harc.errors import HarcError
from harc.models.loading import LoadedModel


def process_state(loaded: LoadedModel) -> PartialState:
    """The (shared, singleton) process state for ``loaded``'s device type."""
    return PartialState(cpu=loaded.device.type == "cpu")


# What accelerate launch sets from a config that shards the model; accelerate itself ignores
# them on CPU, so they are read here as well.
SHARDING_VARIABLES = ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED")
SHARDED_TYPES = (DistributedType.FSDP, DistributedType.DEEPSPEED, DistributedType.MEGATRON_LM)


def check_data_parallel(distributed_type: DistributedType | None = None) -> None:
    """harc's own training loop is data-parallel only (a full copy of the model per rank):
    it runs forwards on the main process alone (held-out diagnostics, answer supply), stops
    forwards early with an exception and saves the adapter from rank 0, none of which a
    sharded model allows. Refuse a sharding launch instead of training unsharded silently."""
    requested = [name for name in SHARDING_VARIABLES
                 if os.environ.get(name, "").lower() in ("1", "true")]
    if distributed_type in SHARDED_TYPES or requested:
        raise HarcError(
            f"this launch shards the model ({', '.join(requested) or distributed_type}"
            "), which harc's training loop does not support: launch data-parallel (accelerate "
            "launch --multi_gpu, or torchrun), one full model per GPU (see README, Large models)")


def training_accelerator(loaded: LoadedModel, mixed_precision: str) -> Accelerator:
    """An Accelerator for a model that is already on its device; under a multi-process launch
    every rank's model must sit on that rank's device (load with ``--device auto``)."""
    check_data_parallel()  # before accelerate reads the same variables
    accelerator = Accelerator(mixed_precision=mixed_precision,
                              cpu=loaded.device.type == "cpu")
    check_data_parallel(accelerator.distributed_type)
    if accelerator.num_processes > 1 and loaded.device.type != "cpu" and (
            loaded.device != accelerator.device):
        raise HarcError(
            f"rank {accelerator.process_index}: the model is on {loaded.device} but this rank's "
            f"device is {accelerator.device}; under accelerate launch / torchrun load the model "
            "with --device auto (one device per rank)")
    return accelerator


def all_finite(accelerator: Accelerator, values: Iterable[float]) -> bool:
    """True when every value is finite on every rank (every rank gets the same answer)."""
    local = float(all(math.isfinite(v) for v in values))
    if accelerator.num_processes == 1:
        return bool(local)
    flags = accelerator.gather(torch.tensor([local], device=accelerator.device))
    return bool(flags.min().item() == 1.0)


def mean_over_ranks(accelerator: Accelerator, terms: dict[str, float]) -> dict[str, float]:
    """Each loss term averaged over ranks (the single-process value of the union of rows)."""
    if accelerator.num_processes == 1 or not terms:
        return terms
    names = sorted(terms)
    values = torch.tensor([terms[n] for n in names], dtype=torch.float64,
                          device=accelerator.device)
    reduced = accelerator.reduce(values, reduction="mean")
    return {name: float(v) for name, v in zip(names, reduced.tolist(), strict=True)}


def average_gradients(accelerator: Accelerator, parameters: Iterable[torch.nn.Parameter]) -> None:
    """Replace every trainable parameter's gradient by its mean over ranks (one all-reduce);
    a parameter that got no gradient on a rank counts as zero there."""
    if accelerator.num_processes == 1:
        return
    params = [p for p in parameters if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1).float() for p in params])
    flat = accelerator.reduce(flat, reduction="mean")
    offset = 0
    for p in params:
        count = p.grad.numel()
        p.grad.copy_(flat[offset:offset + count].view_as(p.grad))
        offset += count


def broadcast_tensors(accelerator: Accelerator, tensors: Iterable[torch.Tensor | None]) -> None:
    """Overwrite the given tensors on every rank with the main process's values, in place
    (e.g. freshly extracted directions, so every rank couples to the very same ones)."""
    if accelerator.num_processes == 1:
        return
    from accelerate.utils import broadcast

    for tensor in tensors:
        if tensor is None:
            continue
        moved = tensor.to(accelerator.device)
        broadcast(moved, from_process=0)
        tensor.copy_(moved.to(tensor.device))


def is_main_process() -> bool:
    """False on the non-main ranks of a multi-process launch, where nothing is written."""
    return not (torch.distributed.is_available() and torch.distributed.is_initialized()) or (
        torch.distributed.get_rank() == 0)


def wait_for_everyone() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def finish(*, wait: bool = True) -> None:
    """Close the process group, after waiting for every rank unless this rank failed (then
    the others may never arrive): a gloo group left open makes the process abort at exit
    ("terminate called without an active exception")."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        if wait:
            wait_for_everyone()
        torch.distributed.destroy_process_group()
