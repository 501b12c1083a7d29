"""i2i_core.recipe.losses: GANLoss modes and the WGAN-GP gradient penalty."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from i2i_core import ConfigError, Engine, GANLoss, gradient_penalty


def test_registered_as_gan():
    loss = Engine(warn=False).registries.losses.build("gan", gan_mode="lsgan")
    assert isinstance(loss, GANLoss)


def test_vanilla_and_lsgan_against_expanded_targets():
    pred = torch.randn(2, 1, 5, 5)
    vanilla, ls = GANLoss("vanilla"), GANLoss("lsgan", target_real_label=0.9, target_fake_label=0.1)
    assert torch.allclose(vanilla(pred, True), F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred)))
    assert torch.allclose(vanilla(pred, False), F.binary_cross_entropy_with_logits(pred, torch.zeros_like(pred)))
    assert torch.allclose(ls(pred, True), ((pred - 0.9) ** 2).mean())
    assert torch.allclose(ls(pred, False), ((pred - 0.1) ** 2).mean())
    # the generator flag changes nothing outside hinge
    assert torch.equal(ls(pred, True, for_discriminator=False), ls(pred, True))


def test_wgangp_and_hinge():
    pred = torch.tensor([[-2.0, -0.5], [0.5, 3.0]])
    w = GANLoss("wgangp")
    assert float(w(pred, True)) == pytest.approx(-0.25) and float(w(pred, False)) == pytest.approx(0.25)
    h = GANLoss("hinge")
    assert float(h(pred, True)) == pytest.approx((3.0 + 1.5 + 0.5 + 0.0) / 4)
    assert float(h(pred, False)) == pytest.approx((0.0 + 0.5 + 1.5 + 4.0) / 4)
    assert float(h(pred, True, for_discriminator=False)) == pytest.approx(-0.25)
    with pytest.raises(ValueError):
        h(pred, False, for_discriminator=False)


def test_gradients_flow_and_dtype_follows_prediction():
    pred = torch.randn(3, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    for mode in ("vanilla", "lsgan", "wgangp", "hinge"):
        loss = GANLoss(mode)(pred, True)
        assert loss.dtype == torch.float64 and loss.dim() == 0
        (g,) = torch.autograd.grad(loss, pred)
        assert g.shape == pred.shape


def test_bad_mode_names_value_and_choices():
    with pytest.raises(ConfigError, match=r"'wgan'.*vanilla, lsgan, wgangp, hinge"):
        GANLoss("wgan")


def _critic() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3))


def test_gradient_penalty_mixed_matches_manual_formula():
    d = _critic()
    real, fake, alpha = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8), torch.tensor([[0.25], [0.75]])
    gp, grads = gradient_penalty(d, real, fake, type="mixed", constant=1.0, lambda_gp=10.0, alpha=alpha)
    x = (alpha.view(2, 1, 1, 1) * real + (1 - alpha.view(2, 1, 1, 1)) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(d(x).sum(), x)
    g = g.view(2, -1)
    assert torch.allclose(grads, g, atol=1e-6)
    assert torch.allclose(gp, 10 * (((g + 1e-16).norm(2, dim=1) - 1.0) ** 2).mean(), atol=1e-6)
    gp.backward()  # differentiable into D (create_graph); biases do not change input gradients
    assert d[0].weight.grad is not None and d[2].weight.grad is not None


@pytest.mark.parametrize("kind", ["real", "fake", "mixed"])
def test_gradient_penalty_types_do_not_touch_inputs(kind):
    d = _critic()
    real, fake = torch.randn(3, 3, 8, 8), torch.randn(3, 3, 8, 8)
    gp, grads = gradient_penalty(d, real, fake, type=kind)
    assert gp.dim() == 0 and grads.shape == (3, 3 * 8 * 8)
    assert not real.requires_grad and not fake.requires_grad


def test_gradient_penalty_disabled_and_bad_type():
    d = _critic()
    x = torch.randn(1, 3, 8, 8)
    assert gradient_penalty(d, x, x, lambda_gp=0.0) == (0.0, None)
    with pytest.raises(ConfigError, match="'both'"):
        gradient_penalty(d, x, x, type="both")
