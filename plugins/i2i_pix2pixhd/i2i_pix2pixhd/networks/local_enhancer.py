"""pix2pixHD's coarse-to-fine generator (``--netG local``): a global generator plus local enhancers.

Keys, as in NVIDIA's ``label2city_1024p/latest_net_G.pth``:

* ``model.*`` - a global generator of width ``ngf * 2**n_local_enhancers`` without
  its last three modules (pad, 7x7 conv, tanh); it runs on the input downsampled
  ``n_local_enhancers`` times. With one enhancer and ``ngf=32`` these are exactly the
  512p generator's tensors, which is what ``--load_pretrain``/``trainer.init_from``
  relies on.
* ``model<n>_1.*`` - enhancer n's downsampling front end on the input at its scale;
* ``model<n>_2.*`` - its residual blocks and upsampling; the finest one
  (``n == n_local_enhancers``) also ends with pad, 7x7 conv to ``output_nc``, tanh.

Enhancer n adds the coarser level's last feature map to ``model<n>_1(input)`` before
``model<n>_2``. Between levels the input is downsampled by
``AvgPool2d(3, stride 2, padding 1, count_include_pad=False)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ._layers import init_weights, norm_factory
from .global_generator import ResnetBlock, global_layers


class LocalEnhancer(nn.Module):
    """G = {G1, G2, ...}: global generator plus ``n_local_enhancers`` enhancers.

    Args:
        input_nc: input channels.
        output_nc: output channels.
        ngf: width of the finest enhancer (the global part is ``ngf * 2**n_local_enhancers`` wide).
        n_downsample_global: downsamplings of the global part.
        n_blocks_global: residual blocks of the global part.
        n_local_enhancers: number of enhancers (1 for 1024p, 2 for 2048p).
        n_blocks_local: residual blocks per enhancer.
        norm: ``instance`` or ``batch``.
        padding_type: padding inside the residual blocks.

    Shape:
        (B, input_nc, H, W) -> (B, output_nc, H, W); H and W should be multiples of
        ``2**(n_downsample_global + n_local_enhancers)``.
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 32, n_downsample_global: int = 3,
                 n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3,
                 norm: str = "instance", padding_type: str = "reflect") -> None:
        super().__init__()
        if n_local_enhancers < 1:
            raise ValueError(f"LocalEnhancer: n_local_enhancers must be >= 1, got {n_local_enhancers}")
        self.n_local_enhancers = n_local_enhancers
        norm_layer = norm_factory(norm)
        # the whole global generator is built (then truncated) so that, seed for seed,
        # the default init draws the same random numbers as the reference does
        full = global_layers(input_nc, output_nc, ngf * 2**n_local_enhancers, n_downsample_global,
                             n_blocks_global, norm_layer)
        self.model = nn.Sequential(*full[:-3])
        for n in range(1, n_local_enhancers + 1):
            width = ngf * 2 ** (n_local_enhancers - n)
            down = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, width, kernel_size=7, padding=0), norm_layer(width),
                    nn.ReLU(True), nn.Conv2d(width, width * 2, kernel_size=3, stride=2, padding=1),
                    norm_layer(width * 2), nn.ReLU(True)]
            up: list[nn.Module] = [ResnetBlock(width * 2, padding_type, norm_layer) for _ in range(n_blocks_local)]
            up += [nn.ConvTranspose2d(width * 2, width, kernel_size=3, stride=2, padding=1, output_padding=1),
                   norm_layer(width), nn.ReLU(True)]
            if n == n_local_enhancers:
                up += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
            setattr(self, f"model{n}_1", nn.Sequential(*down))
            setattr(self, f"model{n}_2", nn.Sequential(*up))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=(1, 1), count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(self.downsample(pyramid[-1]))
        out = self.model(pyramid[-1])
        for n in range(1, self.n_local_enhancers + 1):
            level_input = pyramid[self.n_local_enhancers - n]
            out = getattr(self, f"model{n}_2")(getattr(self, f"model{n}_1")(level_input) + out)
        return out


def build_local(input_nc: int = 36, output_nc: int = 3, ngf: int = 32, n_downsample_global: int = 3,
                n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3,
                norm: str = "instance", padding_type: str = "reflect") -> LocalEnhancer:
    """Registry builder for ``local`` with the reference init applied (``define_G(netG="local")``)."""
    return init_weights(LocalEnhancer(input_nc, output_nc, ngf, n_downsample_global, n_blocks_global,
                                      n_local_enhancers, n_blocks_local, norm, padding_type))
