from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F

from harc.errors import HarcError
from harc.models.cpu_bf16 import (
    MIN_ROWS,
    Float32Matmuls,
    bf16_matmuls_routed,
    route_bf16_matmuls,
    stop_routing_bf16_matmuls,
)
from tests.tiny import tiny_model


def _bf16(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).bfloat16()


@pytest.fixture
def widenings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[torch.Size]]:
    """Shapes of the tensors widened to float32 by the mode while the test runs."""
    shapes: list[torch.Size] = []
    real = torch.Tensor.float

    def spy(self: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        shapes.append(self.shape)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "float", spy)
    yield shapes


def test_a_wide_bf16_product_is_the_float32_product_rounded_to_bf16(
        widenings: list[torch.Size]) -> None:
    x, weight, bias = _bf16(MIN_ROWS, 64, seed=0), _bf16(48, 64, seed=1), _bf16(48, seed=2)
    expected = (x.double() @ weight.double().T + bias.double()).float().bfloat16()
    widenings.clear()
    with Float32Matmuls():
        got = F.linear(x, weight, bias)
        product = x @ weight.T
        batched = torch.bmm(x[None], weight.T[None])
    assert widenings == [x.shape, weight.shape, bias.shape, x.shape, weight.T.shape,
                         (1, *x.shape), (1, *weight.T.shape)]
    assert got.dtype is product.dtype is batched.dtype is torch.bfloat16
    assert (got.float() - expected.float()).abs().max() <= 1e-2 * expected.float().abs().max()
    assert torch.equal(batched[0], product)


def test_narrow_and_float32_products_pass_through(widenings: list[torch.Size]) -> None:
    narrow, weight = _bf16(MIN_ROWS - 1, 64, seed=0), _bf16(48, 64, seed=1)
    wide32, weight32 = _bf16(64, 64, seed=3).float(), weight.float()
    widenings.clear()
    with Float32Matmuls():
        narrow_out = F.linear(narrow, weight)
        wide_out = F.linear(wide32, weight32)
    wide, out = _bf16(MIN_ROWS, 64, seed=4), torch.empty(MIN_ROWS, 48, dtype=torch.bfloat16)
    with Float32Matmuls():
        torch.mm(wide, weight.T, out=out)
    assert widenings == []
    assert torch.equal(out, torch.mm(wide, weight.T))
    assert narrow_out.dtype is torch.bfloat16 and wide_out.dtype is torch.float32
    assert torch.equal(narrow_out, F.linear(narrow, weight))


def test_gradients_flow_through_the_widening() -> None:
    x = _bf16(MIN_ROWS, 32, seed=0)
    weight = _bf16(8, 32, seed=1).requires_grad_()
    with Float32Matmuls():
        F.linear(x, weight).float().square().sum().backward()
    reference = weight.detach().float().requires_grad_()
    F.linear(x.float(), reference).bfloat16().float().square().sum().backward()
    assert weight.grad is not None and weight.grad.dtype is torch.bfloat16
    assert torch.allclose(weight.grad.float(), reference.grad, rtol=2e-2, atol=1e-2)


def test_a_routed_bf16_model_agrees_with_pytorchs_bf16_path() -> None:
    model = tiny_model("qwen2", num_layers=2).to(torch.bfloat16).eval()
    ids = torch.randint(0, 300, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = model(ids).logits.float()
        route_bf16_matmuls()
        routed = model(ids).logits.float()
        exact = model.float()(ids).logits
    assert bf16_matmuls_routed()
    scale = exact.abs().max()
    # Both are bf16 computations of the float32 logits: equally far from them.
    assert (routed - exact).abs().max() < 0.05 * scale
    assert (plain - exact).abs().max() < 0.05 * scale
    assert (routed.argmax(-1) == plain.argmax(-1)).float().mean() > 0.9


def test_routing_is_installed_once_and_can_be_stopped() -> None:
    assert not bf16_matmuls_routed()
    assert route_bf16_matmuls() is True
    assert route_bf16_matmuls() is False
    assert bf16_matmuls_routed()
    with Float32Matmuls(), pytest.raises(HarcError, match="inside another"):
        stop_routing_bf16_matmuls()
    assert stop_routing_bf16_matmuls() is True
    assert stop_routing_bf16_matmuls() is False
    assert not bf16_matmuls_routed()


def test_frozen_weights_are_widened_once_per_block_until_they_change(
        widenings: list[torch.Size]) -> None:
    weight = torch.nn.Parameter(_bf16(48, 64, seed=1), requires_grad=False)
    x = _bf16(MIN_ROWS, 64, seed=0)
    mode = Float32Matmuls(cache_bytes=1 << 20)
    widenings.clear()
    with mode, mode.frozen_copies():
        first = F.linear(x, weight)
        again = F.linear(x, weight)
        with torch.no_grad():
            weight.mul_(2)  # an in-place change autograd sees: its version counter moves
        doubled = F.linear(x, weight)
        assert mode.cached_bytes == weight.numel() * 4
    assert widenings == [x.shape, weight.shape, x.shape, x.shape, weight.shape]
    assert torch.equal(first, again)
    assert torch.equal(doubled, (2 * first.float()).bfloat16())
    assert mode.cached_bytes == 0  # dropped when the block ends


def test_no_copy_outlives_its_block_so_data_changes_are_seen(widenings: list[torch.Size]) -> None:
    weight = torch.nn.Parameter(_bf16(48, 64, seed=1), requires_grad=False)
    x = _bf16(MIN_ROWS, 64, seed=0)
    mode = Float32Matmuls(cache_bytes=1 << 20)
    with mode:
        with mode.frozen_copies():
            first = F.linear(x, weight)
        weight.data.mul_(2)  # how PEFT merges: the version counter does not move
        with mode.frozen_copies():
            doubled = F.linear(x, weight)
        widenings.clear()
        F.linear(x, weight)  # outside a block nothing is kept
        F.linear(x, weight)
    assert widenings == [x.shape, weight.shape] * 2
    assert torch.equal(doubled, (2 * first.float()).bfloat16())


def test_trained_weights_and_a_full_cache_are_widened_every_time(
        widenings: list[torch.Size]) -> None:
    x = _bf16(MIN_ROWS, 64, seed=0)
    trained = torch.nn.Parameter(_bf16(48, 64, seed=1))
    frozen = torch.nn.Parameter(_bf16(48, 64, seed=2), requires_grad=False)
    mode = Float32Matmuls(cache_bytes=frozen.numel() * 4 - 1)
    widenings.clear()
    with mode, mode.frozen_copies():
        for _ in range(2):
            F.linear(x, trained)
            F.linear(x, frozen)
    assert widenings == [x.shape, trained.shape, x.shape, frozen.shape] * 2
    assert mode.cached_bytes == 0


def test_generation_keeps_copies_only_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from harc.generation import GenerationSettings, Generator
    from harc.models import cpu_bf16
    from tests.tiny import tiny_tokenizer

    model = tiny_model("qwen2", num_layers=2).to(torch.bfloat16).eval().requires_grad_(False)
    tokenizer = tiny_tokenizer()
    seen: list[int] = []
    route_bf16_matmuls()
    installed = cpu_bf16._installed
    assert installed is not None
    real = installed._widen

    def spy(value: object) -> object:
        result = real(value)
        seen.append(installed.cached_bytes)
        return result

    monkeypatch.setattr(installed, "_widen", spy)
    prompts = [f"prompt number {i}" for i in range(MIN_ROWS)]
    settings = GenerationSettings(max_new_tokens=3, batch_size=MIN_ROWS)
    with torch.no_grad():
        plain = Generator(model, tokenizer, progress=False, cache_dir=None)
        plain.cache_dir = plain.cache_dir / "routed"
        routed = plain.generate(prompts, settings)
    assert max(seen) > 0 and installed.cached_bytes == 0
    stop_routing_bf16_matmuls()
    unrouted = Generator(model, tokenizer, progress=False)
    unrouted.cache_dir = unrouted.cache_dir / "unrouted"
    assert len(routed) == len(unrouted.generate(prompts, settings)) == MIN_ROWS
