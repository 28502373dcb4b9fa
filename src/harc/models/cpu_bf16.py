"""bfloat16 models on CPUs without native bf16 matmuls: their matmuls computed in float32.

PyTorch multiplies bf16 matrices on a CPU with a fast kernel only where the CPU has bf16
instructions (AVX512-BF16 or AMX on x86). Elsewhere a product of M rows costs M times a matrix-
vector product: on a 2-core AVX2 EPYC, 210 ms for 256 x 896 @ 896 x 4864 against 47 ms in
float32, and a HARC training step of the 0.5B model over 6 min against 19 s in float32 (21 s
routed as below; decoding 32 prompts x 96 tokens 154 s routed, 450 s in bf16, 135 s in float32).
A native bf16 matmul multiplies bf16 operands and sums the products in float32; widening the
operands to float32 (exact) and rounding the result to bf16 computes the same thing up to the
order of the sums, which already differs between CPU kernels: greedy answers of the 0.5B model
match answers recorded on an AVX512-BF16 CPU for 17 of 32 prompts routed, 18 with PyTorch's own
bf16 path, 20 in float32 (the keyword judge's verdict for 31 of 32 in each;
``benchmarks/results/cpu_bf16-avx2.json``). Weights and activations stay bfloat16 (cache
keys and records are those of a bf16 model); only the matmuls of at least :data:`MIN_ROWS` rows
are widened, since below that the bf16 kernel is as fast as float32 and the weight's widening
would cost more than it saves. Within one generate call the float32 copies of frozen weights are
kept (up to a quarter of the machine's memory), so decoding does not widen the LM head at every
token.

:func:`route_bf16_matmuls` installs this for the process's main thread, once; loading a bf16
model on such a CPU does it (:func:`harc.models.load_model`). Products computed in other threads
take PyTorch's own path (slow, same result up to rounding).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode, _get_current_function_mode

from harc.errors import HarcError

logger = logging.getLogger(__name__)

# Measured (benchmarks/cpu_bf16.py, 896 -> 4864 linear): 8 rows 6.7 ms in bf16, 8 widened;
# 32 rows 27 ms in bf16, 15-20 widened.
MIN_ROWS = 16

_MATMULS = frozenset({
    F.linear, torch.matmul, torch.mm, torch.bmm, torch.addmm, torch.baddbmm,
    torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.mm, torch.Tensor.bmm,
})


def _is_wide_cpu_bf16(value: Any) -> bool:
    return (
        isinstance(value, torch.Tensor)
        and value.dtype is torch.bfloat16
        and value.device.type == "cpu"
        and value.dim() >= 2
        and value.numel() // max(value.shape[-1], 1) >= MIN_ROWS
    )


def default_cache_bytes() -> int:
    """A quarter of the machine's memory (0 where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (AttributeError, ValueError, OSError):
        return 0


class Float32Matmuls(TorchFunctionMode):
    """Computes the bf16 CPU matmuls whose first operand has at least ``MIN_ROWS`` rows in
    float32 and returns them in bf16; every other call passes through unchanged. Autograd
    follows the widening, so backward products are float32 too.

    Inside :meth:`frozen_copies` the float32 copies of frozen weights (parameters that need no
    gradient) are kept, up to ``cache_bytes`` in all, and made again if a weight changes in place
    under autograd's eye (its version counter moves). They are dropped when the block ends: a
    change through ``.data`` (how PEFT merges adapters) leaves the version counter alone, so a
    copy kept across calls could go stale. Generation runs in such a block: without it, decoding
    widened the 152k-row LM head at every token.
    """

    def __init__(self, cache_bytes: int = 0) -> None:
        super().__init__()
        self.cache_bytes = cache_bytes
        self.cached_bytes = 0
        self._copies: dict[int, tuple[torch.Tensor, int, torch.Tensor]] = {}
        self._keeping = 0

    @contextmanager
    def frozen_copies(self) -> Iterator[None]:
        """Keep the float32 copies of frozen weights while the block runs."""
        self._keeping += 1
        try:
            yield
        finally:
            self._keeping -= 1
            if not self._keeping:
                self._copies.clear()
                self.cached_bytes = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        # out= is left to PyTorch: a widened copy of it would take the result instead
        if func in _MATMULS and args and _is_wide_cpu_bf16(args[0]) and "out" not in kwargs:
            result = func(*map(self._widen, args),
                          **{key: self._widen(value) for key, value in kwargs.items()})
            return result.to(torch.bfloat16)
        return func(*args, **kwargs)

    def _widen(self, value: Any) -> Any:
        if not isinstance(value, torch.Tensor) or value.dtype is not torch.bfloat16:
            return value
        if not self._keeping or not isinstance(value, torch.nn.Parameter) or value.requires_grad:
            return value.float()
        # Each entry holds its weight, so no other tensor can take the weight's id in the block.
        kept = self._copies.get(id(value))
        if kept is not None and kept[1] == value._version:
            return kept[2]
        if kept is not None:  # changed in place since it was copied
            del self._copies[id(value)]
            self.cached_bytes -= kept[2].numel() * kept[2].element_size()
        copy = value.float()
        size = copy.numel() * copy.element_size()
        if self.cached_bytes + size <= self.cache_bytes:
            self._copies[id(value)] = (value, value._version, copy)
            self.cached_bytes += size
        return copy


_installed: Float32Matmuls | None = None


def frozen_weight_copies() -> AbstractContextManager[None]:
    """A block in which the routed matmuls keep their float32 copies of frozen weights (see
    :class:`Float32Matmuls`); a no-op where bf16 matmuls are not routed. For blocks whose
    weights do not change, such as one ``model.generate`` call."""
    return _installed.frozen_copies() if _installed is not None else nullcontext()


def route_bf16_matmuls() -> bool:
    """Install :class:`Float32Matmuls` for the rest of the process (main thread); True if this
    call installed it, False if it already was."""
    global _installed
    if _installed is not None:
        return False
    _installed = Float32Matmuls(cache_bytes=default_cache_bytes())
    _installed.__enter__()
    logger.info("bfloat16 matmuls on this CPU are computed in float32 (no native bf16 kernel)")
    return True


def stop_routing_bf16_matmuls() -> bool:
    """Undo :func:`route_bf16_matmuls` (tests, benchmarks); True if it was installed. Only
    possible while it is the innermost torch-function mode, else a HarcError."""
    global _installed
    if _installed is None:
        return False
    if _get_current_function_mode() is not _installed:
        raise HarcError("cannot stop routing bf16 matmuls inside another torch-function mode")
    _installed.__exit__(None, None, None)
    _installed = None
    return True


def bf16_matmuls_routed() -> bool:
    """Whether :func:`route_bf16_matmuls` has been called in this process."""
    return _installed is not None
