from __future__ import annotations

import math

import pytest
import torch

from harc.training.losses import (
    coupling_hinge,
    direction_cosine,
    next_token_cross_entropy,
    token_mean_kl,
    total_loss,
)


def test_direction_cosine_shapes_and_no_gradient_into_direction():
    hidden = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]], requires_grad=True)  # [1, 2 layers, 2]
    direction = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    cos = direction_cosine(hidden, direction)
    torch.testing.assert_close(cos, torch.tensor([[1.0, 1 / math.sqrt(2)]]))
    cos.sum().backward()
    assert hidden.grad is not None and direction.grad is None


def test_coupling_hinge_hand_computed():
    # Two rows x two layers. Row 0 harmful, row 1 retain; margin 0.5.
    c_ref = torch.tensor([[0.2, 0.7], [0.3, -0.1]])
    c_harm = torch.tensor([[0.6, 0.1], [-0.2, 0.4]])
    harmful = torch.tensor([True, False])
    # harmful row: relu(.5-.2)+relu(.5-.6)=.3 ; relu(.5-.7)+relu(.5-.1)=.4
    # retain row:  relu(.3)+relu(-.2)=.3     ; relu(-.1)+relu(.4)=.4
    expected = (0.3 + 0.4 + 0.3 + 0.4) / 4
    assert coupling_hinge(c_ref, c_harm, harmful, 0.5).item() == pytest.approx(expected)


def test_coupling_hinge_zero_when_margins_hold():
    harmful = torch.tensor([True, True, False])
    c_ref = torch.tensor([[0.6], [0.9], [-0.3]])
    c_harm = torch.tensor([[0.5], [0.7], [0.0]])
    assert coupling_hinge(c_ref, c_harm, harmful, 0.5).item() == 0.0


def test_coupling_hinge_empty_batch_is_zero():
    empty = torch.zeros(0, 2)
    assert coupling_hinge(empty, empty, torch.zeros(0, dtype=torch.bool), 0.5).item() == 0.0


def test_kl_hand_computed_and_zero_for_identical():
    base = torch.log(torch.tensor([[[0.5, 0.5], [0.9, 0.1]]]))
    tuned = torch.log(torch.tensor([[[0.25, 0.75], [0.9, 0.1]]]))
    mask = torch.tensor([[1, 0]])
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert token_mean_kl(base, tuned, mask).item() == pytest.approx(expected, rel=1e-5)
    both = torch.tensor([[1, 1]])
    assert token_mean_kl(base, tuned, both).item() == pytest.approx(expected / 2, rel=1e-5)
    assert token_mean_kl(base, base, both).item() == pytest.approx(0.0, abs=1e-7)
    assert token_mean_kl(base, tuned, torch.zeros(1, 2)).item() == 0.0


def test_cross_entropy_masked():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]]))
    targets = torch.tensor([[0, 1]])
    mask = torch.tensor([[0, 1]])
    assert next_token_cross_entropy(logits, targets, mask).item() == pytest.approx(-math.log(0.8))


def test_total_loss_weights_and_unknown_term():
    terms = {"couple": torch.tensor(1.0), "kl": torch.tensor(0.5)}
    assert total_loss(terms, {"couple": 1.0, "kl": 10.0}).item() == pytest.approx(6.0)
    with pytest.raises(KeyError, match="ce"):
        total_loss(terms, {"ce": 1.0})
