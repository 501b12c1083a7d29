"""CUT's modules on their own: blur-pool resampling, generator taps, PatchGAN, netF, PatchNCE, GAN loss."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from i2i_cut.gan_loss import CUTGANLoss
from i2i_cut.networks import CUTNLayerDiscriminator, CUTResnetGenerator, PatchSampleF, generator_depth
from i2i_cut.networks.blur import BlurDownsample, BlurUpsample
from i2i_cut.patchnce import PatchNCELoss


def test_blur_resampling_halves_and_doubles_and_keeps_constants():
    x = torch.full((1, 2, 9, 12), 0.5)
    down = BlurDownsample(2)(x)
    assert down.shape == (1, 2, 5, 6) and torch.allclose(down, torch.full_like(down, 0.5))
    up = BlurUpsample(2)(torch.full((1, 2, 4, 6), 0.5))
    assert up.shape == (1, 2, 8, 12) and torch.allclose(up, torch.full_like(up, 0.5))
    assert set(BlurDownsample(2).state_dict()) == {"filt"}  # a buffer: in the reference's checkpoints


@pytest.mark.parametrize("no_aa, no_aa_up", [(False, False), (True, True), (True, False)])
def test_generator_depth_and_taps(no_aa, no_aa_up):
    g = CUTResnetGenerator(3, 3, ngf=4, n_blocks=2, no_antialias=no_aa, no_antialias_up=no_aa_up)
    assert len(g.model) == generator_depth(2, no_aa, no_aa_up)
    x = torch.rand(2, 3, 16, 20)
    assert g(x).shape == (2, 3, 16, 20)
    feats = g(x, [0, 1, len(g.model) - 1])
    assert [tuple(f.shape) for f in feats] == [(2, 3, 22, 26), (2, 4, 16, 20), (2, 3, 16, 20)]


def test_a_tap_before_an_inplace_relu_is_seen_after_it_unless_it_is_the_last():
    g = CUTResnetGenerator(3, 3, ngf=4, n_blocks=1).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        mid = g(x, [2, 3])[0]  # the norm's output, then overwritten by model[3] = ReLU(inplace)
        last = g(x, [2])[0]
    assert (mid >= 0).all() and (last < 0).any()
    assert torch.equal(mid, last.clamp(min=0))


def test_bad_nce_layers_are_one_line_errors():
    g = CUTResnetGenerator(3, 3, ngf=4, n_blocks=1)
    for layers in ([], [4, 0], [0, len(g.model)]):
        with pytest.raises(ValueError, match="nce_layers"):
            g(torch.rand(1, 3, 16, 16), layers)


def test_discriminator_maps_64_to_6_with_and_without_antialiasing():
    for no_aa in (False, True):
        assert CUTNLayerDiscriminator(3, ndf=4, no_antialias=no_aa)(torch.rand(1, 3, 64, 64)).shape == (1, 1, 6, 6)


def test_patch_sample_rows_are_batch_major_and_unit_length():
    feats = [torch.rand(2, 5, 4, 4), torch.rand(2, 7, 2, 2)]
    ids = [torch.tensor([3, 0, 9]), torch.tensor([1, 2])]
    plain = PatchSampleF(use_mlp=False)
    plain.create_mlps([5, 7])
    out = plain(feats, ids)
    assert [tuple(o.shape) for o in out] == [(6, 5), (4, 7)]
    row = feats[0][1, :, 0, 3]  # image 1, position 3 = (y 0, x 3): the 4th row of image 1's block
    assert torch.allclose(out[0][3], row / (row.norm() + 1e-7))
    mlp = PatchSampleF(use_mlp=True, nc=8)
    mlp.create_mlps([5, 7], init_type="normal", init_gain=1.0)  # outputs far above the 1e-7 of the norm
    assert set(mlp.state_dict()) == {f"mlp_{i}.{j}.{p}" for i in (0, 1) for j in (0, 2) for p in ("weight", "bias")}
    assert all(torch.allclose(o.norm(dim=1), torch.ones(len(o)), atol=1e-5) for o in mlp(feats, ids))


def test_patch_nce_matches_its_definition_per_image_and_over_the_batch():
    g = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    k = F.normalize(torch.randn(6, 4, generator=g), dim=1)

    def by_hand(q: torch.Tensor, k: torch.Tensor, groups: int) -> torch.Tensor:
        out = []
        for qg, kg in zip(q.chunk(groups), k.chunk(groups), strict=True):
            sim = qg @ kg.T
            for i in range(len(qg)):
                negatives = torch.cat([sim[i, :i], torch.tensor([-10.0]), sim[i, i + 1:]])
                logits = torch.cat([sim[i, i:i + 1], negatives]) / 0.07
                out.append(-torch.log_softmax(logits, 0)[0])
        return torch.stack(out)

    assert torch.allclose(PatchNCELoss(0.07)(q, k, batch_size=2), by_hand(q, k, 2), atol=1e-5)
    assert torch.allclose(PatchNCELoss(0.07, all_negatives_from_minibatch=True)(q, k, 2), by_hand(q, k, 1), atol=1e-5)
    qg = q.clone().requires_grad_(True)
    kg = k.clone().requires_grad_(True)
    PatchNCELoss()(qg, kg, 2).mean().backward()
    assert kg.grad is None and qg.grad is not None  # the keys are detached
    with pytest.raises(ValueError, match="4 images"):
        PatchNCELoss()(q, k, batch_size=4)


def test_nonsaturating_gan_loss_is_per_sample_softplus():
    pred = torch.tensor([[[[0.0, 2.0]]], [[[-1.0, 1.0]]]])
    loss = CUTGANLoss("nonsaturating")
    assert torch.allclose(loss(pred, True), F.softplus(-pred).mean(dim=(1, 2, 3)))
    assert torch.allclose(loss(pred, False), F.softplus(pred).mean(dim=(1, 2, 3)))
    assert CUTGANLoss("lsgan")(pred, True).dim() == 0
