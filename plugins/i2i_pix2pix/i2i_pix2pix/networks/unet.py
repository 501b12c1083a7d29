"""U-Net generator of pix2pix (state-dict compatible with junyanz ``UnetGenerator``).

The network is built recursively from the bottleneck outwards: each level is a
:class:`UnetSkipBlock` that downsamples, runs the next level, upsamples and concatenates
its own input in front of the result. ``num_downs`` levels turn an ``S x S`` image into
``S / 2**num_downs`` at the bottleneck, so inputs must be multiples of ``2**num_downs``
(``unet_256``: 256, ``unet_128``: 128).
"""

from __future__ import annotations

import torch
from torch import nn

from i2i_core import ConfigError

from ._layers import NormFactory, conv_bias, init_weights, norm_layer


def _inner(submodule: nn.Module | None) -> nn.Module:
    """The block a non-innermost level wraps (only the innermost level has none)."""
    if submodule is None:
        raise ConfigError("UnetSkipBlock: only the innermost level may be built without a submodule")
    return submodule


class UnetSkipBlock(nn.Module):
    """One U-Net level: ``x -> cat([x, up(sub(down(x)))])`` (outermost: no concatenation).

    Down path: LeakyReLU(0.2) -> Conv4x4/s2 -> norm (the outermost level has neither the
    activation nor the norm, the innermost no norm). Up path: ReLU -> ConvTranspose4x4/s2
    -> norm (outermost: Tanh instead of a norm), then Dropout(0.5) when ``use_dropout``.
    Layers live in ``self.model`` at the reference's indices.

    Args:
        outer_nc: channels of this level's input and output (before concatenation).
        inner_nc: channels after the down convolution.
        input_nc: input channels when they differ from ``outer_nc`` (outermost level).
        submodule: the next inner level (``None`` for the innermost).
        outermost: this is the image-facing level.
        innermost: this is the bottleneck.
        norm: normalisation factory.
        use_bias: bias of the convolutions that feed a norm.
        use_dropout: add Dropout(0.5) after the up path (intermediate levels only).

    Shape:
        - input: ``(B, input_nc, H, W)``.
        - output: ``(B, outer_nc, H, W)`` for the outermost level, else ``(B, 2*outer_nc, H, W)``.
    """

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None, submodule: nn.Module | None = None,
                 *, outermost: bool = False, innermost: bool = False, norm: NormFactory, use_bias: bool,
                 use_dropout: bool = False) -> None:
        super().__init__()
        self.outermost = outermost
        in_nc = outer_nc if input_nc is None else input_nc
        # modules are created in the reference's order so that one seed gives the same weights
        down_conv = nn.Conv2d(in_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        # in place like the reference: the skip then carries LeakyReLU(x), which the parent's
        # up-ReLU maps to ReLU(x) exactly as a plain skip would
        down_act = nn.LeakyReLU(0.2, True)
        up_act = nn.ReLU(True)
        layers: list[nn.Module]
        if outermost:
            up_conv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [down_conv, _inner(submodule), up_act, up_conv, nn.Tanh()]
        elif innermost:
            up_conv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [down_act, down_conv, up_act, up_conv, norm(outer_nc)]
        else:
            up_conv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [down_act, down_conv, norm(inner_nc), _inner(submodule), up_act, up_conv, norm(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """pix2pix U-Net: ``num_downs`` stride-2 levels with skip connections, Tanh output.

    Widths from the outside in: ``ngf, 2ngf, 4ngf, 8ngf``, then ``8ngf`` for the remaining
    ``num_downs - 4`` levels; Dropout(0.5) sits in the ``num_downs - 5`` intermediate
    ``8ngf`` levels when ``use_dropout``.

    Args:
        input_nc: input channels.
        output_nc: output channels.
        num_downs: number of downsamplings (7 for 128 px, 8 for 256 px); at least 5.
        ngf: width of the outermost level.
        norm: ``batch``, ``instance`` or ``none``.
        use_dropout: dropout in the innermost-but-one levels.

    Raises:
        ConfigError: ``num_downs < 5``, unknown ``norm``, or (at call time) an input whose
            height/width is not a multiple of ``2**num_downs``.

    Shape:
        - input: ``(B, input_nc, H, W)`` with ``H, W`` multiples of ``2**num_downs``.
        - output: ``(B, output_nc, H, W)`` in ``[-1, 1]``.

    Example:
        >>> g = UnetGenerator(3, 3, num_downs=5, ngf=4)
        >>> g(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64, norm: str = "batch",
                 use_dropout: bool = False) -> None:
        super().__init__()
        if num_downs < 5:
            raise ConfigError(f"UNet num_downs {num_downs} is too small; expected at least 5")
        self.num_downs = num_downs
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        block = UnetSkipBlock(ngf * 8, ngf * 8, innermost=True, norm=make_norm, use_bias=bias)
        for _ in range(num_downs - 5):
            block = UnetSkipBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout, norm=make_norm,
                                  use_bias=bias)
        block = UnetSkipBlock(ngf * 4, ngf * 8, submodule=block, norm=make_norm, use_bias=bias)
        block = UnetSkipBlock(ngf * 2, ngf * 4, submodule=block, norm=make_norm, use_bias=bias)
        block = UnetSkipBlock(ngf, ngf * 2, submodule=block, norm=make_norm, use_bias=bias)
        self.model = UnetSkipBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                   norm=make_norm, use_bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        multiple = 2 ** self.num_downs
        h, w = x.shape[-2], x.shape[-1]
        if h % multiple or w % multiple:
            raise ConfigError(
                f"UNet with num_downs={self.num_downs} got a {h}x{w} input; height and width must be "
                f"multiples of {multiple} (at least {multiple} px), e.g. data.crop_size={max(multiple, (max(h, w) // multiple) * multiple)}")
        return self.model(x)


def unet(input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64, norm: str = "batch",
         use_dropout: bool = False, init_type: str = "normal", init_gain: float = 0.02) -> UnetGenerator:
    """U-Net with ``num_downs`` levels, initialised like the reference's ``define_G``."""
    net = UnetGenerator(input_nc, output_nc, num_downs, ngf, norm=norm, use_dropout=use_dropout)
    return init_weights(net, init_type, init_gain)


def unet_128(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "batch", use_dropout: bool = False,
             init_type: str = "normal", init_gain: float = 0.02) -> UnetGenerator:
    """``unet_128``: 7 levels, for 128x128 inputs (multiples of 128)."""
    return unet(input_nc, output_nc, 7, ngf, norm, use_dropout, init_type, init_gain)


def unet_256(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "batch", use_dropout: bool = False,
             init_type: str = "normal", init_gain: float = 0.02) -> UnetGenerator:
    """``unet_256``: 8 levels, for 256x256 inputs (multiples of 256)."""
    return unet(input_nc, output_nc, 8, ngf, norm, use_dropout, init_type, init_gain)


#: registered U-Net names -> number of downsamplings
UNET_DOWNS = {"unet_128": 7, "unet_256": 8}
