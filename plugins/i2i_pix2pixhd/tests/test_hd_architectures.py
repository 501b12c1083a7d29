"""pix2pixHD networks: shapes, gradients, init, and key layouts against the full-size manifests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from i2i_core import ConfigError

ARCH_OF = {"global": "global", "local": "local", "encoder": "encoder"}


def _build_meta(engine, manifest: dict) -> nn.Module:
    cfg = dict(manifest["config"])
    with torch.device("meta"):
        if manifest["factory"] == "define_D":
            return engine.registries.architectures.build("multiscale", **cfg)
        return engine.registries.architectures.build(ARCH_OF[cfg.pop("netG")], **cfg)


def test_full_size_key_layout_matches_manifest(i2i_shared_engine, manifest):
    net = _build_meta(i2i_shared_engine, manifest)
    got = [(k, list(t.shape)) for k, t in net.state_dict().items()]
    want = [(e["key"], e["shape"]) for e in manifest["state_dict"]]
    assert got == want
    inorm = sorted(n for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d))
    assert inorm == sorted(manifest["instance_norm_modules"])


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_global_forward_backward(i2i_shared_engine, norm):
    net = i2i_shared_engine.registries.architectures.build("global", input_nc=5, output_nc=3, ngf=4, n_downsampling=2,
                                                           n_blocks=1, norm=norm)
    x = torch.randn(2, 5, 16, 24, requires_grad=True)
    out = net(x)
    assert out.shape == (2, 3, 16, 24) and out.abs().max() <= 1
    out.mean().backward()
    assert x.grad is not None and all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("n_local", [1, 2])
def test_local_forward_backward(i2i_shared_engine, n_local):
    net = i2i_shared_engine.registries.architectures.build("local", input_nc=5, output_nc=3, ngf=4,
                                                           n_downsample_global=1, n_blocks_global=1,
                                                           n_local_enhancers=n_local, n_blocks_local=1)
    out = net(torch.randn(1, 5, 16, 16))
    assert out.shape == (1, 3, 16, 16)
    out.square().mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    # the finest enhancer ends with the output conv and Tanh, coarser ones with a ReLU
    assert isinstance(getattr(net, f"model{n_local}_2")[-1], nn.Tanh)
    assert all(isinstance(getattr(net, f"model{n}_2")[-1], nn.ReLU) for n in range(1, n_local))


def test_local_enhancer_contains_the_coarser_generators():
    """1024p's G holds the 512p G's tensors and 2048p's holds 1024p's, by name and shape (init_from)."""
    from i2i_pix2pixhd.networks.global_generator import build_global
    from i2i_pix2pixhd.networks.local_enhancer import build_local

    common = dict(input_nc=36, output_nc=3, n_downsample_global=4, n_blocks_global=9)
    with torch.device("meta"):
        g512 = build_global(ngf=64, **common).state_dict()
        g1024 = build_local(ngf=32, n_local_enhancers=1, n_blocks_local=3, **common).state_dict()
        g2048 = build_local(ngf=16, n_local_enhancers=2, n_blocks_local=3, **common).state_dict()
    global_keys = [k for k in g1024 if k.startswith("model.")]
    assert all(k in g512 and g512[k].shape == g1024[k].shape for k in global_keys)
    assert len(global_keys) == len(g512) - 2  # all but the final 7x7 conv
    enh = [k for k in g1024 if k.startswith("model1_")]
    same = [k for k in enh if k in g2048 and g2048[k].shape == g1024[k].shape]
    assert len(same) == len(enh) - 2  # all but 1024p's output conv
    assert all(g2048[k].shape == g1024[k].shape for k in global_keys)


def test_encoder_pools_per_instance(i2i_shared_engine):
    net = i2i_shared_engine.registries.architectures.build("encoder", input_nc=3, output_nc=2, ngf=4, n_downsampling=1)
    image = torch.randn(2, 3, 8, 8)
    inst = torch.zeros(2, 1, 8, 8)
    inst[0, :, :4] = 7
    inst[1, :, :, :3] = 1001
    out = net(image, inst)
    raw = net.model(image)
    for b in range(2):
        for value in inst[b].unique():
            mask = inst[b, 0] == value
            for c in range(2):
                assert torch.allclose(out[b, c][mask], raw[b, c][mask].mean().expand(int(mask.sum())), atol=1e-6)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_patchgan_padding_and_intermediate_features(i2i_shared_engine):
    net = i2i_shared_engine.registries.architectures.build("hd_n_layers", input_nc=3, ndf=4, n_layers=3,
                                                           getIntermFeat=True)
    outs = net(torch.randn(1, 3, 64, 64))
    assert len(outs) == 5 and outs[-1].shape == (1, 1, 11, 11)  # junyanz's would give 6x6
    assert all(m.bias is not None for m in net.modules() if isinstance(m, nn.Conv2d))
    plain = i2i_shared_engine.registries.architectures.build("hd_n_layers", input_nc=3, ndf=4, n_layers=2,
                                                             use_sigmoid=True)
    p = plain(torch.randn(1, 3, 32, 32))
    assert p.min() >= 0 and p.max() <= 1


@pytest.mark.parametrize("interm", [True, False])
def test_multiscale_full_resolution_first(i2i_shared_engine, interm):
    net = i2i_shared_engine.registries.architectures.build("multiscale", input_nc=4, ndf=4, n_layers=2, num_D=3,
                                                           getIntermFeat=interm)
    x = torch.randn(1, 4, 32, 32)
    outs = net(x)
    assert len(outs) == 3 and len(outs[0]) == (4 if interm else 1)
    sizes = [o[-1].shape[-1] for o in outs]
    assert sizes[0] > sizes[1] > sizes[2]
    # the highest-index sub-network judges the full-resolution input
    top = [getattr(net, f"scale2_layer{j}") for j in range(4)] if interm else [net.layer2]
    y = x
    for m in top:
        y = m(y)
    assert torch.equal(y, outs[0][-1])
    outs[0][-1].mean().backward()


def test_reference_init(i2i_shared_engine):
    torch.manual_seed(0)
    net = i2i_shared_engine.registries.architectures.build("global", input_nc=3, output_nc=3, ngf=32, n_downsampling=1,
                                                           n_blocks=1, norm="batch")
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 0.002
    assert all(m.bias.abs().sum() > 0 for m in convs)  # biases keep PyTorch's default init
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in bns)
    assert abs(torch.cat([m.weight for m in bns]).mean().item() - 1) < 0.01


def test_bad_norm_and_padding(i2i_shared_engine):
    build = i2i_shared_engine.registries.architectures.build
    with pytest.raises(ConfigError, match="norm"):
        build("global", input_nc=3, output_nc=3, ngf=4, n_downsampling=1, n_blocks=1, norm="none")
    with pytest.raises(ConfigError, match="padding_type"):
        build("global", input_nc=3, output_nc=3, ngf=4, n_downsampling=1, n_blocks=1, padding_type="circular")
