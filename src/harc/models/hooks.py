"""Every forward hook harc registers goes through here: reads and edits of the residual
stream at a slot (slot L < n: the input of decoder block L; slot n: the output of the last
block), an early stop after the deepest slot read, and hooks around a whole forward pass of
the model (on the module that really runs, through PEFT wrappers: see
:func:`harc.models.blocks.forward_module`). Hooks are removed on exit, even on error."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from harc.errors import HarcError
from harc.models.blocks import find_decoder_blocks, forward_module

# hidden [batch, seq, d] -> a replacement, or None to leave the residual as it is
ResidualHook = Callable[[torch.Tensor], torch.Tensor | None]


class SlotError(HarcError, ValueError):
    """Residual slots that the model does not have."""


class StopForward(Exception):
    """Raised after the deepest slot read when ``stop_after_deepest``: the rest of the forward
    pass is skipped. Catch it around the forward call (``contextlib.suppress``)."""


@contextmanager
def residual_hooks(
    model: nn.Module, hooks: Mapping[int, ResidualHook], *, stop_after_deepest: bool = False,
) -> Iterator[None]:
    """Call ``hooks[slot](hidden)`` at each slot during forward passes inside the block; a
    returned tensor replaces the residual there. With ``stop_after_deepest`` the pass raises
    :class:`StopForward` once the deepest slot has been seen."""
    blocks = find_decoder_blocks(model)
    n_blocks = len(blocks)
    if not hooks and stop_after_deepest:
        raise SlotError("no residual slots requested")
    outside = [slot for slot in hooks if not 0 <= slot <= n_blocks]
    if outside:
        raise SlotError(f"residual slots must lie in 0..{n_blocks}, got {sorted(outside)}")
    deepest = max(hooks, default=n_blocks)

    def before_block(slot: int, hook: ResidualHook) -> Callable[..., Any]:
        def run(_module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
            hidden = args[0] if args else kwargs["hidden_states"]
            replaced = hook(hidden)
            if stop_after_deepest and slot == deepest:
                raise StopForward
            if replaced is None:
                return None
            if args:
                return (replaced, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": replaced}

        return run

    def after_last_block(hook: ResidualHook) -> Callable[..., Any]:
        def run(_module: nn.Module, _args: tuple, output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output
            replaced = hook(hidden)
            if stop_after_deepest:
                raise StopForward
            if replaced is None:
                return None
            return (replaced, *output[1:]) if isinstance(output, tuple) else replaced

        return run

    handles = []
    try:
        for slot, hook in sorted(hooks.items()):
            if slot < n_blocks:
                handles.append(blocks[slot].register_forward_pre_hook(
                    before_block(slot, hook), with_kwargs=True))
            else:
                handles.append(blocks[n_blocks - 1].register_forward_hook(after_last_block(hook)))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def model_hooks(
    model: nn.Module, *, before: Callable[[dict[str, Any]], None] | None = None,
    after: Callable[[Any], None] | None = None,
) -> Iterator[None]:
    """``before(kwargs)`` at the start and ``after(output)`` at the end of every forward pass
    of ``model`` (of each decoding step when it generates); ``after`` may edit the output's
    tensors in place (e.g. the logits)."""
    target = forward_module(model)
    handles = []
    try:
        if before is not None:
            handles.append(target.register_forward_pre_hook(
                lambda _module, _args, kwargs: before(kwargs), with_kwargs=True))
        if after is not None:
            handles.append(target.register_forward_hook(
                lambda _module, _args, output: after(output)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def transform_first_input(module: nn.Module, transform: Callable[[torch.Tensor], torch.Tensor]
                          ) -> None:
    """Pass ``module``'s first positional input through ``transform`` on every call, for the
    module's lifetime (a fix to how the module is fed, not a context)."""
    module.register_forward_pre_hook(
        lambda _module, args: (transform(args[0]), *args[1:]) if args else None)
