"""CUT's ResNet generator: the junyanz layout with antialiased resampling and feature taps.

``model`` is one ``nn.Sequential`` (keys ``model.<i>...`` as in the reference):

* ``ReflectionPad2d(3)``, ``Conv7x7``, norm, ReLU;
* two downsamplings: antialiased ``Conv3x3(stride 1)``, norm, ReLU, :class:`BlurDownsample`
  (four layers each), or with ``no_antialias`` ``Conv3x3(stride 2)``, norm, ReLU (three);
* ``n_blocks`` :class:`ResnetBlock` at 4 x ``ngf`` channels;
* two upsamplings: :class:`BlurUpsample`, ``Conv3x3``, norm, ReLU (four each), or with
  ``no_antialias_up`` ``ConvTranspose3x3(stride 2)``, norm, ReLU (three);
* ``ReflectionPad2d(3)``, ``Conv7x7`` (always biased), ``Tanh``.

``forward(x, layers)`` returns the outputs of ``model[i]`` for ``i`` in ``layers`` instead of the
image (what PatchNCE compares). Each tap is the very tensor the layer returned, and the
ReLUs work in place, as in the reference: a tap on a norm layer (or on norm ``none``'s
Identity) is therefore seen after the ReLU that follows it, unless it is the last tap, where
the forward stops. That is what the reference's NCE loss trains on, so it is kept.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .blur import BlurDownsample, BlurUpsample
from .init import init_weights
from .norm import conv_bias, norm_layer

#: the reference's resampling steps on each side of the residual blocks
N_RESAMPLINGS = 2
#: layers around the residual blocks whatever the options: stem (pad, conv, norm, ReLU) + head (pad, conv, Tanh)
_STEM, _HEAD = 4, 3


def generator_depth(n_blocks: int, no_antialias: bool = False, no_antialias_up: bool = False) -> int:
    """Number of layers of ``model`` (valid ``nce_layers`` are ``0 .. depth - 1``)."""
    down = 3 if no_antialias else 4
    up = 3 if no_antialias_up else 4
    return _STEM + N_RESAMPLINGS * down + n_blocks + N_RESAMPLINGS * up + _HEAD


class ResnetBlock(nn.Module):
    """``x + conv_block(x)``: pad, Conv3x3, norm, ReLU, [Dropout(0.5)], pad, Conv3x3, norm."""

    def __init__(self, dim: int, padding_type: str, norm: str, use_dropout: bool) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        pads = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d}
        if padding_type not in (*pads, "zero"):
            raise ValueError(f"padding_type {padding_type!r}: expected reflect, replicate or zero")

        def conv() -> list[nn.Module]:
            if padding_type == "zero":
                return [nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=bias)]
            return [pads[padding_type](1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=bias)]

        layers = [*conv(), make_norm(dim), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [*conv(), make_norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class CUTResnetGenerator(nn.Module):
    """ResNet generator with blur-pool resampling and encoder taps for PatchNCE.

    Args:
        input_nc: input channels.
        output_nc: output channels.
        ngf: width of the first convolution.
        norm: ``instance``, ``batch`` or ``none``.
        use_dropout: Dropout(0.5) inside each residual block (changes the block's keys).
        n_blocks: residual blocks (9 for ``resnet_9blocks``, 6 for ``resnet_6blocks``).
        padding_type: padding inside the blocks: ``reflect``, ``replicate`` or ``zero``.
        no_antialias: stride-2 convolutions instead of conv + blur downsampling.
        no_antialias_up: transposed convolutions instead of blur upsampling + conv.

    Shape:
        - input: (B, input_nc, H, W), H and W multiples of 4.
        - output: (B, output_nc, H, W) in [-1, 1]; with ``layers`` a list of (B, C_l, H_l, W_l).

    Example:
        >>> g = CUTResnetGenerator(3, 3, ngf=4, n_blocks=1)
        >>> [tuple(f.shape) for f in g(torch.zeros(1, 3, 16, 16), [0, 4])]
        [(1, 3, 22, 22), (1, 8, 16, 16)]
    """

    #: both image sides must be multiples of this (two halvings)
    size_multiple = 2**N_RESAMPLINGS

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "instance",
                 use_dropout: bool = False, n_blocks: int = 9, padding_type: str = "reflect",
                 no_antialias: bool = False, no_antialias_up: bool = False) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks {n_blocks}: expected >= 0")
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=bias),
                                   make_norm(ngf), nn.ReLU(True)]
        for i in range(N_RESAMPLINGS):
            c_in, c_out = ngf * 2**i, ngf * 2 ** (i + 1)
            if no_antialias:
                layers += [nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=bias), make_norm(c_out),
                           nn.ReLU(True)]
            else:
                layers += [nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=bias), make_norm(c_out),
                           nn.ReLU(True), BlurDownsample(c_out)]
        width = ngf * 2**N_RESAMPLINGS
        layers += [ResnetBlock(width, padding_type, norm, use_dropout) for _ in range(n_blocks)]
        for i in range(N_RESAMPLINGS):
            c_in = ngf * 2 ** (N_RESAMPLINGS - i)
            c_out = c_in // 2
            if no_antialias_up:
                layers += [nn.ConvTranspose2d(c_in, c_out, kernel_size=3, stride=2, padding=1, output_padding=1,
                                              bias=bias), make_norm(c_out), nn.ReLU(True)]
            else:
                layers += [BlurUpsample(c_in), nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=bias),
                           make_norm(c_out), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, layers: Sequence[int] | None = None) -> torch.Tensor | list[torch.Tensor]:
        """The translated image, or with ``layers`` (strictly increasing indices into ``model``)
        the outputs of those layers, computed up to the last of them only.

        One method for both so that a DistributedDataParallel wrapper, which only forwards
        ``forward``, serves the NCE taps too.
        """
        if layers is None:
            return self.model(x)
        wanted = list(layers)
        check_layers(wanted, len(self.model))
        feats: list[torch.Tensor] = []
        last = wanted[-1]
        for index, layer in enumerate(self.model):
            x = layer(x)
            if index in wanted:
                feats.append(x)
            if index == last:
                break
        return feats


def check_layers(layers: Sequence[int], depth: int) -> None:
    """Raise one line unless ``layers`` are strictly increasing indices in ``[0, depth)``."""
    if not layers:
        raise ValueError("nce_layers is empty: expected at least one layer index")
    if any(b <= a for a, b in zip(layers, layers[1:], strict=False)) or layers[0] < 0 or layers[-1] >= depth:
        raise ValueError(f"nce_layers {list(layers)}: expected strictly increasing indices from 0 to {depth - 1} "
                         f"(the generator has {depth} layers)")


def cut_resnet_generator(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "instance",
                         use_dropout: bool = False, n_blocks: int = 9, padding_type: str = "reflect",
                         no_antialias: bool = False, no_antialias_up: bool = False, init_type: str = "xavier",
                         init_gain: float = 0.02) -> CUTResnetGenerator:
    """Build and initialise the generator (construction, then :func:`init_weights`, as the reference)."""
    net = CUTResnetGenerator(input_nc, output_nc, ngf, norm, use_dropout, n_blocks, padding_type, no_antialias,
                             no_antialias_up)
    return init_weights(net, init_type, init_gain)
