"""PatchGAN discriminators of pix2pix (state-dict compatible with junyanz's).

* :class:`NLayerDiscriminator` classifies overlapping patches: with ``n_layers=3``
  (``basic``) each output element sees a 70x70 input patch.
* :class:`PixelDiscriminator` is the 1x1 "PixelGAN": one decision per pixel.

Both output raw logits (no sigmoid): the GAN loss applies the link function.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i_core import ConfigError

from ._layers import conv_bias, init_weights, norm_layer


class NLayerDiscriminator(nn.Module):
    """PatchGAN: 4x4 convolutions with LeakyReLU(0.2), ``n_layers`` of them with stride 2.

    Channels: ``ndf * min(2**k, 8)``; no norm after the first conv; after the strided
    convs one stride-1 conv with norm and a stride-1 conv to one channel. Only the first
    and last conv always carry a bias.

    Args:
        input_nc: input channels (pix2pix: ``input_nc + output_nc``).
        ndf: width of the first conv.
        n_layers: number of stride-2 convolutions (``basic`` = 3).
        norm: ``batch``, ``instance`` or ``none``.

    Shape:
        - input: ``(B, input_nc, H, W)``.
        - output: ``(B, 1, H', W')``, e.g. 30x30 for a 256x256 input with ``n_layers=3``.

    Example:
        >>> d = NLayerDiscriminator(6, ndf=4)
        >>> d(torch.zeros(1, 6, 64, 64)).shape
        torch.Size([1, 1, 6, 6])
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"PatchGAN n_layers {n_layers} is too small; expected at least 1")
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=2, padding=1, bias=bias),
                       make_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=1, padding=1, bias=bias),
                   make_norm(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN ("PixelGAN"): Conv1x1 LeakyReLU Conv1x1 norm LeakyReLU Conv1x1.

    The first conv has a bias; the second and the last only with instance norm (the
    reference's rule, applied even to the output conv).

    Args:
        input_nc: input channels.
        ndf: width of the first conv.
        norm: ``batch``, ``instance`` or ``none``.

    Shape:
        - input: ``(B, input_nc, H, W)``.
        - output: ``(B, 1, H, W)``.
    """

    def __init__(self, input_nc: int, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=bias),
            make_norm(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def n_layers(input_nc: int = 6, ndf: int = 64, n_layers: int = 3, norm: str = "batch", init_type: str = "normal",
             init_gain: float = 0.02, n_layers_D: int | None = None) -> NLayerDiscriminator:
    """PatchGAN with ``n_layers`` strided convs (``n_layers_D`` is accepted as the reference's alias)."""
    if n_layers_D is not None:
        n_layers = n_layers_D
    return init_weights(NLayerDiscriminator(input_nc, ndf, n_layers, norm), init_type, init_gain)


def basic(input_nc: int = 6, ndf: int = 64, norm: str = "batch", init_type: str = "normal",
          init_gain: float = 0.02) -> NLayerDiscriminator:
    """``basic``: the 70x70 PatchGAN (3 strided layers)."""
    return init_weights(NLayerDiscriminator(input_nc, ndf, 3, norm), init_type, init_gain)


def pixel(input_nc: int = 6, ndf: int = 64, norm: str = "batch", init_type: str = "normal",
          init_gain: float = 0.02) -> PixelDiscriminator:
    """``pixel``: the 1x1 PixelGAN."""
    return init_weights(PixelDiscriminator(input_nc, ndf, norm), init_type, init_gain)
