"""pix2pix networks: every registered architecture, key layouts, init parity, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from i2i_core import ConfigError, Engine
from i2i_pix2pix import networks as nets

REFERENCE = Path(__file__).resolve().parents[3] / "tests" / "reference"


@pytest.fixture(scope="module")
def archs():
    return Engine(warn=False).registries.architectures


GENERATORS = [  # every registered generator once, every norm for each family
    ("unet_128", {}, 128, "batch"),
    ("unet_256", {}, 256, "instance"),
    ("unet", {"num_downs": 5}, 32, "none"),
    ("resnet_6blocks", {}, 16, "instance"),
    ("resnet_9blocks", {}, 16, "batch"),
    ("resnet", {"n_blocks": 2, "padding_type": "replicate"}, 16, "none"),
    ("resnet", {"n_blocks": 1, "padding_type": "zero"}, 16, "batch"),
]


@pytest.mark.parametrize("name,kw,size,norm", GENERATORS)
def test_generators_forward_backward(archs, name, kw, size, norm):
    g = archs.build(name, input_nc=2, output_nc=1, ngf=2, norm=norm, use_dropout=True, **kw)
    x = torch.randn(1, 2, size, size)
    y = g(x)
    assert y.shape == (1, 1, size, size)
    assert y.abs().max() <= 1.0  # Tanh output
    y.mean().backward()
    assert all(p.grad is not None for p in g.parameters())


@pytest.mark.parametrize("name,kw", [("basic", {}), ("n_layers", {"n_layers": 2}), ("n_layers", {"n_layers_D": 4}),
                                     ("pixel", {})])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_discriminators_forward_backward(archs, name, kw, norm):
    d = archs.build(name, input_nc=4, ndf=2, norm=norm, **kw)
    x = torch.randn(2, 4, 48, 48, requires_grad=True)
    out = d(x)
    assert out.shape[:2] == (2, 1)
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in d.parameters())


def test_patch_sizes(archs):
    assert archs.build("basic", input_nc=6, ndf=2)(torch.zeros(1, 6, 256, 256)).shape == (1, 1, 30, 30)
    assert archs.build("pixel", input_nc=6, ndf=2)(torch.zeros(1, 6, 20, 24)).shape == (1, 1, 20, 24)


def test_resnet_rounds_up_to_multiple_of_4():
    g = nets.resnet(3, 3, ngf=2, n_blocks=1)
    assert g(torch.zeros(1, 3, 18, 22)).shape == (1, 3, 20, 24)


def _layout(manifest: str) -> tuple[list[tuple[str, tuple]], list[str]]:
    d = json.loads((REFERENCE / "manifests" / f"{manifest}.json").read_text())
    return [(e["key"], tuple(e["shape"])) for e in d["state_dict"]], d["instance_norm_modules"]


@pytest.mark.parametrize("manifest,build", [
    ("junyanz_pix2pix_G_unet256", lambda: nets.UnetGenerator(3, 3, 8, 64, "batch", True)),
    ("junyanz_pix2pix_D_basic", lambda: nets.NLayerDiscriminator(6, 64, 3, "batch")),
    ("junyanz_cyclegan_G_resnet9", lambda: nets.ResnetGenerator(3, 3, 64, "instance", False, 9)),
    ("junyanz_cyclegan_G_resnet9_dropout", lambda: nets.ResnetGenerator(3, 3, 64, "instance", True, 9)),
    ("junyanz_cyclegan_D_basic", lambda: nets.NLayerDiscriminator(3, 64, 3, "instance")),
])
def test_full_size_key_layout_matches_reference(manifest, build):
    with torch.device("meta"):
        net = build()
    keys, instance_norms = _layout(manifest)
    assert [(k, tuple(v.shape)) for k, v in net.state_dict().items()] == keys
    assert [n for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)] == instance_norms


def test_init_reproduces_reference_weights():
    """Same seed, same construction order: the golden train case's initial weights, bit for bit."""
    case = torch.load(REFERENCE / "golden" / "jz_pix2pix_train.pt", weights_only=True)
    c = case["config"]
    torch.manual_seed(case["meta"]["case_seed"])
    g = nets.unet_128(c["input_nc"], c["output_nc"], c["ngf"], c["norm"], not c["no_dropout"])
    d = nets.basic(c["input_nc"] + c["output_nc"], c["ndf"], c["norm"])
    for net, ref in ((g, case["state_dict"]["netG"]), (d, case["state_dict"]["netD"])):
        got = net.state_dict()
        assert list(got) == list(ref)
        assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_bias_and_identity_rules():
    # norm 'none': Identity placeholders keep indices; convs that would feed a norm have no bias
    d = nets.NLayerDiscriminator(3, 2, 3, norm="none")
    assert isinstance(d.model[3], nn.Identity)
    assert d.model[0].bias is not None and d.model[2].bias is None and d.model[11].bias is not None
    p = nets.PixelDiscriminator(3, 2, norm="batch")
    assert p.net[0].bias is not None and p.net[2].bias is None and p.net[5].bias is None
    u = nets.UnetGenerator(3, 3, 5, 2, norm="none")
    assert u.model.model[0].bias is None and u.model.model[3].bias is not None  # outermost down / up conv
    u = nets.UnetGenerator(3, 3, 5, 2, norm="instance")
    assert u.model.model[0].bias is not None
    r = nets.ResnetGenerator(3, 3, 2, norm="batch", n_blocks=1)
    assert r.model[1].bias is None and r.model[-2].bias is not None


def test_unet_dropout_placement():
    u = nets.UnetGenerator(3, 3, 8, 2, use_dropout=True)
    drops = [n for n, m in u.named_modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(n.endswith(".7") for n in drops)


@pytest.mark.parametrize("init_type", ["normal", "xavier", "kaiming", "orthogonal"])
def test_init_types(init_type):
    net = nets.basic(3, 4, init_type=init_type, init_gain=0.02).requires_grad_(False)
    assert net.model[2].weight.std() > 0 and float(net.model[0].bias.abs().sum()) == 0.0
    assert float(net.model[3].bias.abs().sum()) == 0.0


def test_bad_inputs(archs):
    g = archs.build("unet_256", ngf=2)
    with pytest.raises(ConfigError, match=r"multiples of 256"):
        g(torch.zeros(1, 3, 128, 128))
    with pytest.raises(ValueError, match=r"200x256"):
        g(torch.zeros(1, 3, 200, 256))
    with pytest.raises(ConfigError, match="norm 'bn'.*batch, instance, none"):
        archs.build("basic", norm="bn")
    with pytest.raises(ConfigError, match="padding_type 'circular'"):
        archs.build("resnet", padding_type="circular")
    with pytest.raises(ConfigError, match="init_type 'uniform'"):
        archs.build("pixel", init_type="uniform")
    with pytest.raises(ConfigError, match="num_downs 4"):
        archs.build("unet", num_downs=4)
