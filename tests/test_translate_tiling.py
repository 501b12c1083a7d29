"""Native-size and tiled inference: size multiples, padding, exactness against one pass, norm statistics."""

from __future__ import annotations

import pytest
import torch

from i2i_core import Engine
from i2i_core.base.errors import ConfigError
from i2i_core.inference.tiling import ShapedGenerator, _ramp, auto_tile, per_image_norms, size_multiple, spans


@pytest.fixture(scope="module")
def arch():
    return Engine(warn=False).registries.architectures


def _resnet(arch, norm: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return arch.build("resnet", input_nc=3, output_nc=3, ngf=8, n_blocks=1, norm=norm, use_dropout=False)


@pytest.mark.parametrize(("name", "kwargs", "expected"), [
    ("resnet", {"n_blocks": 1}, 4),
    ("unet", {"num_downs": 5}, 32),
    ("unet_256", {}, 256),
])
def test_size_multiple_of_pix2pix_generators(arch, name: str, kwargs: dict, expected: int) -> None:
    net = arch.build(name, input_nc=3, output_nc=3, ngf=4, **kwargs)
    assert size_multiple(net) == expected


@pytest.mark.parametrize(("name", "kwargs", "expected"), [
    ("global", {"n_downsample_global": 3}, 8),
    ("local", {"n_downsample_global": 2, "n_local_enhancers": 1}, 8),
])
def test_size_multiple_of_pix2pixhd_generators(arch, name: str, kwargs: dict, expected: int) -> None:
    net = arch.build(name, input_nc=5, output_nc=3, ngf=4, n_blocks_global=1, **kwargs)
    assert size_multiple(net) == expected


def test_any_size_comes_back_at_its_own_size(arch) -> None:
    net = arch.build("unet", input_nc=3, output_nc=2, ngf=4, num_downs=5).eval()
    with torch.no_grad():
        for h, w in ((37, 53), (5, 70), (64, 64)):
            out = ShapedGenerator(net)(torch.rand(2, 3, h, w) * 2 - 1)
            assert out.shape == (2, 2, h, w)


def test_padding_is_cropped_back_exactly(arch) -> None:
    """An input already on the multiple goes through untouched: the wrapper equals the bare network."""
    net = _resnet(arch, "batch").eval()
    x = torch.randn(1, 3, 48, 40)
    with torch.no_grad():
        assert torch.equal(ShapedGenerator(net)(x), net(x))


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_tiled_equals_one_pass_when_overlap_covers_the_receptive_field(arch, norm: str) -> None:
    # resnet with one block: receptive radius 25 px; overlap 64, blend 16 -> 24 px of context, plus the 4 px grid
    net = _resnet(arch, norm).eval()
    x = torch.rand(1, 3, 200, 136) * 2 - 1
    with torch.no_grad():
        one = ShapedGenerator(net)(x)
        tiled = ShapedGenerator(net, tile=96, overlap=64)(x)
    assert (one - tiled).abs().max().item() <= 1e-5


def test_train_mode_batch_norm_gathers_whole_image_statistics(arch) -> None:
    """The reference's test.py default (BatchNorm in train mode) tiles exactly too, and its running stats stay."""
    net = _resnet(arch, "batch").train()
    before = [b.clone() for b in net.buffers()]
    x = torch.rand(2, 3, 136, 200) * 2 - 1
    with torch.no_grad():
        one = ShapedGenerator(net)(x)
        for b, old in zip(net.buffers(), before, strict=True):  # the one pass moved them: restore
            b.copy_(old)
        tiled = ShapedGenerator(net, tile=96, overlap=64)(x)
    assert (one - tiled).abs().max().item() <= 1e-5
    assert all(torch.equal(b, old) for b, old in zip(net.buffers(), before, strict=True))


def test_tile_statistics_change_instance_norm_outputs(arch) -> None:
    """norm_stats='tile' is the fast approximation: each tile normalises itself, so results move."""
    net = _resnet(arch, "instance").eval()
    assert per_image_norms(net)
    x = torch.rand(1, 3, 200, 136) * 2 - 1
    with torch.no_grad():
        one = ShapedGenerator(net)(x)
        local = ShapedGenerator(net, tile=96, overlap=64, norm_stats="tile")(x)
    assert (one - local).abs().max().item() > 1e-3


def test_blend_weights_sum_to_one() -> None:
    for length in (200, 136, 96, 300):
        total = torch.zeros(length)
        for s in spans(length, 96, 64, 4):
            total[s.start: s.start + s.size] += _ramp(s, 16, torch.device("cpu"))
        assert torch.allclose(total, torch.ones(length), atol=1e-6), length


def test_tiles_start_on_the_size_multiple() -> None:
    for s in spans(992, 256, 64, 32):  # a padded side: a multiple of 32
        assert s.start % 32 == 0 and s.own0 % 32 == 0


def test_auto_tile_fits_the_budget(arch) -> None:
    net = _resnet(arch, "instance")
    small, large = auto_tile(net, 64 * 2**20, 4, 64), auto_tile(net, 512 * 2**20, 4, 64)
    assert small % 4 == 0 and 64 < small < large
    with pytest.raises(ConfigError, match="too small"):
        auto_tile(net, 2**16, 4, 64)


def test_tile_not_larger_than_overlap_is_one_line(arch) -> None:
    with pytest.raises(ConfigError, match="must be larger than --overlap"):
        ShapedGenerator(_resnet(arch, "batch"), tile=64, overlap=64)
