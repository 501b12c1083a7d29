"""pix2pixHD's global generator (``--netG global``) and its residual block.

Layout of ``model`` (a single ``nn.Sequential``, so the state-dict keys are
``model.<index>.*`` exactly as NVIDIA's checkpoints name them)::

    ReflectionPad2d(3), Conv7x7(input_nc -> ngf), norm, ReLU
    n_downsampling x [Conv3x3/s2 (c -> 2c), norm, ReLU]
    n_blocks x ResnetBlock(ngf * 2**n_downsampling)
    n_downsampling x [ConvTranspose3x3/s2/output_padding 1 (c -> c/2), norm, ReLU]
    ReflectionPad2d(3), Conv7x7(ngf -> output_nc), Tanh

Every convolution keeps its bias, also in front of InstanceNorm.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from i2i_core import ConfigError

from ._layers import init_weights, norm_factory

PADDINGS = ("reflect", "replicate", "zero")


class ResnetBlock(nn.Module):
    """``x + conv_block(x)``: pad, Conv3x3, norm, ReLU, pad, Conv3x3, norm (no activation after the add).

    With ``padding_type="zero"`` the pad modules disappear and the convolutions pad
    by 1 themselves, which shifts the key indices (``conv_block.0``/``.3`` instead of
    ``.1``/``.5``), as in the reference.

    Args:
        dim: channels in and out.
        padding_type: ``reflect``, ``replicate`` or ``zero``.
        norm_layer: ``channels -> norm module`` factory.

    Shape:
        (B, dim, H, W) -> (B, dim, H, W).
    """

    def __init__(self, dim: int, padding_type: str, norm_layer: Callable[[int], nn.Module]) -> None:
        super().__init__()
        if padding_type not in PADDINGS:
            raise ConfigError(f"padding_type={padding_type!r}: expected one of {', '.join(PADDINGS)}")
        layers: list[nn.Module] = []
        for second in (False, True):
            conv_padding = 0
            if padding_type == "reflect":
                layers.append(nn.ReflectionPad2d(1))
            elif padding_type == "replicate":
                layers.append(nn.ReplicationPad2d(1))
            else:
                conv_padding = 1
            layers += [nn.Conv2d(dim, dim, kernel_size=3, padding=conv_padding), norm_layer(dim)]
            if not second:
                layers.append(nn.ReLU(True))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def global_layers(input_nc: int, output_nc: int, ngf: int, n_downsampling: int, n_blocks: int,
                  norm_layer: Callable[[int], nn.Module], padding_type: str = "reflect") -> list[nn.Module]:
    """The modules of a global generator, in order (the LocalEnhancer drops the last three).

    Built in the reference's order, so with the same seed the default initialisation
    consumes the random stream exactly as pix2pixHD does.
    """
    if n_blocks < 0 or n_downsampling < 0:
        raise ConfigError(f"global generator: n_blocks={n_blocks} and n_downsampling={n_downsampling} must be >= 0")
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0),
                               norm_layer(ngf), nn.ReLU(True)]
    for i in range(n_downsampling):
        c = ngf * 2**i
        layers += [nn.Conv2d(c, c * 2, kernel_size=3, stride=2, padding=1), norm_layer(c * 2), nn.ReLU(True)]
    width = ngf * 2**n_downsampling
    layers += [ResnetBlock(width, padding_type, norm_layer) for _ in range(n_blocks)]
    for i in range(n_downsampling):
        c = ngf * 2 ** (n_downsampling - i)
        layers += [nn.ConvTranspose2d(c, c // 2, kernel_size=3, stride=2, padding=1, output_padding=1),
                   norm_layer(c // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
    return layers


class GlobalGenerator(nn.Module):
    """The 512p generator G1 of pix2pixHD (keys ``model.<i>.*``).

    Args:
        input_nc: input channels (one-hot labels + edge map + features).
        output_nc: output channels.
        ngf: width of the first convolution.
        n_downsampling: stride-2 convolutions (and as many transposed ones).
        n_blocks: residual blocks at the bottleneck.
        norm: ``instance`` or ``batch``.
        padding_type: padding inside the residual blocks.

    Shape:
        (B, input_nc, H, W) -> (B, output_nc, H, W) in [-1, 1]; H and W should be
        multiples of ``2**n_downsampling``.
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, n_downsampling: int = 3, n_blocks: int = 9,
                 norm: str = "instance", padding_type: str = "reflect") -> None:
        super().__init__()
        self.model = nn.Sequential(*global_layers(input_nc, output_nc, ngf, n_downsampling, n_blocks,
                                                  norm_factory(norm), padding_type))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_global(input_nc: int = 36, output_nc: int = 3, ngf: int = 64, n_downsampling: int | None = None,
                 n_blocks: int | None = None, norm: str = "instance", padding_type: str = "reflect",
                 n_downsample_global: int | None = None, n_blocks_global: int | None = None,
                 **ignored: object) -> GlobalGenerator:
    """Registry builder for ``global`` with the reference init applied (``define_G(netG="global")``).

    Accepts both the class's argument names (``n_downsampling``, ``n_blocks``) and
    ``define_G``'s (``n_downsample_global``, ``n_blocks_global``; defaults 3 and 9).
    Options that only matter to other generators (``n_local_enhancers``,
    ``n_blocks_local``) are ignored, so one option set can build either netG.
    """
    _no_strays(ignored, {"n_local_enhancers", "n_blocks_local"}, "global")
    n_down = _pick(n_downsampling, n_downsample_global, 3)
    blocks = _pick(n_blocks, n_blocks_global, 9)
    return init_weights(GlobalGenerator(input_nc, output_nc, ngf, n_down, blocks, norm, padding_type))


def _pick(value: int | None, alias: int | None, default: int) -> int:
    if value is not None:
        return value
    return alias if alias is not None else default


def _no_strays(kwargs: dict, allowed: set[str], arch: str) -> None:
    stray = sorted(set(kwargs) - allowed)
    if stray:
        raise TypeError(f"architecture {arch!r} got unexpected keyword argument(s) {', '.join(stray)}")
