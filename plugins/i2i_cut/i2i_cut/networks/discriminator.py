"""CUT's PatchGAN discriminator: junyanz's ``NLayerDiscriminator`` with blur-pool downsampling.

Antialiased (the default), each of the first ``n_layers`` stages is ``Conv4x4(stride 1,
pad 1)``, [norm,] LeakyReLU(0.2), :class:`BlurDownsample`; with ``no_antialias`` the conv has
stride 2 and there is no blur. Then ``Conv4x4(stride 1)``, norm, LeakyReLU and a 1-channel
``Conv4x4(stride 1)``. No norm after the first conv; first and last convs always biased.
A 64x64 input gives a 6x6 map either way.
"""

from __future__ import annotations

import torch
from torch import nn

from .blur import BlurDownsample
from .init import init_weights
from .norm import conv_bias, norm_layer


class CUTNLayerDiscriminator(nn.Module):
    """PatchGAN with ``n_layers`` downsampling stages (``basic`` = 3: 70x70 receptive field).

    Shape:
        - input: (B, input_nc, H, W)
        - output: (B, 1, H', W') logits (no sigmoid)
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
                 no_antialias: bool = False) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers {n_layers}: expected >= 1")
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        stride = 2 if no_antialias else 1
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=stride, padding=1),
                                   nn.LeakyReLU(0.2, True)]
        if not no_antialias:
            layers.append(BlurDownsample(ndf))
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1, bias=bias),
                       make_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
            if not no_antialias:
                layers.append(BlurDownsample(ndf * mult))
        prev, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=1, padding=1, bias=bias),
                   make_norm(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def cut_n_layer_discriminator(input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
                              no_antialias: bool = False, init_type: str = "xavier",
                              init_gain: float = 0.02) -> CUTNLayerDiscriminator:
    """Build and initialise the discriminator (construction, then :func:`init_weights`)."""
    return init_weights(CUTNLayerDiscriminator(input_nc, ndf, n_layers, norm, no_antialias), init_type, init_gain)
