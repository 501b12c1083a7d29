"""pix2pixHD losses: multi-scale GAN, feature matching, VGG19 (weights only from a local file)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from i2i_core import ConfigError
from i2i_pix2pixhd.losses import (
    VGG_SLICES,
    FeatureMatchingLoss,
    GANLoss,
    VGGLoss,
    check_vgg_state,
    default_vgg_path,
    load_vgg19_features,
    vgg19_features,
)


def _pred(seed: int = 0) -> list[list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 2, 6, 6, generator=g), torch.randn(1, 1, 5, 5, generator=g)],
            [torch.randn(1, 2, 3, 3, generator=g), torch.randn(1, 1, 2, 2, generator=g)]]


def test_lsgan_sums_last_tensor_of_each_scale():
    pred = _pred()
    loss = GANLoss(use_lsgan=True)
    want = sum(((s[-1] - 1) ** 2).mean() for s in pred)
    assert torch.allclose(loss(pred, True), want)
    assert torch.allclose(loss(pred, False), sum((s[-1] ** 2).mean() for s in pred))
    assert torch.allclose(GANLoss(target_real_label=0.9)(pred, True), sum(((s[-1] - 0.9) ** 2).mean() for s in pred))


def test_bce_on_probabilities_and_logits_agree():
    pred = _pred(1)
    probs = [[t.sigmoid() for t in s] for s in pred]
    plain = GANLoss(use_lsgan=False)(probs, True)
    logits = GANLoss(use_lsgan=False, from_logits=True)(pred, True)
    assert torch.allclose(plain, logits, atol=1e-6)


def test_feature_matching_excludes_final_prediction():
    fake, real = _pred(0), _pred(1)
    loss = FeatureMatchingLoss(num_D=2, n_layers_D=3, lambda_feat=10.0)(fake, real)
    want = sum(0.5 * 1.0 * (f[0] - r[0]).abs().mean() * 10 for f, r in zip(fake, real, strict=True))
    assert torch.allclose(loss, want)
    real[0][-1] += 100  # the final prediction does not count
    assert torch.allclose(FeatureMatchingLoss(2, 3, 10.0)(fake, real), want)


def _tiny_features() -> nn.Sequential:
    """Same layers and indices as vgg19().features, 2-4 channels wide."""
    from torchvision.models.vgg import cfgs, make_layers

    return make_layers([v if v == "M" else max(2, v // 128) for v in cfgs["E"]])


def test_vgg_loss_with_given_features():
    torch.manual_seed(0)
    loss = VGGLoss(features=_tiny_features())
    assert len(loss.slices) == 5 and [len(s) for s in loss.slices] == [b - a for a, b in VGG_SLICES]
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    value = loss(x, torch.randn(1, 3, 32, 32))
    value.backward()
    assert value > 0 and x.grad is not None
    assert not any(p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.training


def test_vgg_missing_weights_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    assert default_vgg_path() == expected
    with pytest.raises(ConfigError) as err:
        VGGLoss()
    msg = str(err.value)
    assert "\n" not in msg and str(expected) in msg and "model.vgg_weights" in msg and "no_vgg_loss" in msg
    with pytest.raises(ConfigError, match="nothing.pth"):
        load_vgg19_features(tmp_path / "nothing.pth")


def test_vgg_missing_weights_stops_the_recipe_build(make_recipe, tmp_path):
    with pytest.raises(ConfigError, match="VGG19 weights not found"):
        make_recipe({"no_vgg_loss": False, "vgg_weights": str(tmp_path / "vgg19.pth")})


def test_vgg_state_checking_on_meta():
    with torch.device("meta"):
        full = {f"features.{k}": v for k, v in vgg19_features().state_dict().items()}
    full["classifier.0.weight"] = torch.empty(4096, 25088, device="meta")
    picked = check_vgg_state(full, "vgg.pth")
    assert sorted(picked) == sorted(k[len("features."):] for k in full if k.startswith("features."))
    bad = dict(full)
    bad["features.28.weight"] = torch.empty(512, 256, 3, 3, device="meta")
    with pytest.raises(ConfigError, match=r"vgg.pth: features.28.weight has shape"):
        check_vgg_state(bad, "vgg.pth")
    del bad["features.0.bias"]
    with pytest.raises(ConfigError, match="features.0.bias"):
        check_vgg_state(bad, "vgg.pth")


def test_vgg_unreadable_file(tmp_path):
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot read"):
        VGGLoss(path)


@pytest.mark.slow
def test_vgg_loads_a_full_size_file(tmp_path):
    """80 MB: a genuinely saved torchvision-layout VGG19 features state dict."""
    torch.manual_seed(0)
    feats = vgg19_features()
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    loss = VGGLoss(path)
    assert torch.equal(loss.slices[4][-2].weight, feats[28].weight)
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    loss(x, torch.zeros(1, 3, 32, 32)).backward()
    assert x.grad is not None
