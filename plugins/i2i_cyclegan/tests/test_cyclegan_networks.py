"""The book's networks: key layout of the full-size manifests, shapes, init, registry builders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from i2i_core import ConfigError
from i2i_cyclegan.networks import BookDiscriminator, BookGenerator

MANIFESTS = Path(__file__).resolve().parents[3] / "tests" / "reference" / "manifests"


def _layout(net: torch.nn.Module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in net.state_dict().items()]


@pytest.mark.parametrize("name", ["book_cyclegan_G", "book_cyclegan_D"])
def test_full_size_keys_match_the_manifest(i2i_shared_engine, name):
    manifest = json.loads((MANIFESTS / f"{name}.json").read_text())
    arch = "book_generator" if name.endswith("_G") else "book_discriminator"
    with torch.device("meta"):  # 11M parameters: names and shapes only
        net = i2i_shared_engine.registries.architectures.build(arch, **manifest["config"])
    assert _layout(net) == [(e["key"], e["shape"]) for e in manifest["state_dict"]]
    norms = [n for n, m in net.named_modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms == manifest["instance_norm_modules"]


def test_width_div_and_shapes():
    g = BookGenerator(3, num_blocks=2, width_div=16)
    assert g.model[1].weight.shape == (4, 3, 7, 7) and g.model[7].weight.shape == (16, 8, 3, 3)
    assert g(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    d = BookDiscriminator(3, width_div=16)
    assert d.model[8].weight.shape == (32, 16, 4, 4)
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)  # the book's fixed target size


def test_book_init_draws_weights_and_keeps_default_biases(i2i_shared_engine):
    torch.manual_seed(0)
    g = i2i_shared_engine.registries.architectures.build("book_generator", channels=3, num_blocks=1, width_div=8)
    conv = g.model[4]
    assert abs(float(conv.weight.detach().std()) - 0.02) < 0.005
    bound = 1 / (conv.in_channels * 9) ** 0.5  # PyTorch's default uniform bias init
    assert float(conv.bias.detach().abs().max()) <= bound and float(conv.bias.detach().abs().max()) > 0


@pytest.mark.parametrize("width_div", [0, 3, 128])
def test_bad_width_div_is_a_config_error(width_div):
    with pytest.raises(ConfigError, match="width_div"):
        BookGenerator(3, 9, width_div)
