"""pix2pixHD's multi-scale discriminator: ``num_D`` PatchGANs on an image pyramid.

The sub-network with the **highest** index judges the full-resolution input, so
``forward(x)[0]`` comes from ``scale{num_D-1}_layer*`` (``layer{num_D-1}`` without
intermediate features) and ``forward(x)[-1]`` from ``scale0``. That ordering makes a
512p discriminator (num_D 2, full resolution = 512 px) land, by name, on the scales of
a 1024p one (num_D 3) that see the same 512 px images, which is what
``trainer.init_from`` copies. Between scales the input is downsampled by
``AvgPool2d(3, stride 2, padding 1, count_include_pad=False)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ._layers import init_weights
from .nlayer_discriminator import NLayerDiscriminator


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` pix2pixHD PatchGANs at successively halved resolutions.

    Args:
        input_nc: input channels (labels + edges + image).
        ndf: width of each PatchGAN's first convolution.
        n_layers: stride-2 convolutions per PatchGAN.
        norm: ``instance`` or ``batch``.
        use_sigmoid: final Sigmoid (only applied without ``getIntermFeat``, as in the reference).
        num_D: number of scales.
        getIntermFeat: keep each PatchGAN's intermediate outputs (keys
            ``scale<i>_layer<j>``) for feature matching; otherwise keys ``layer<i>``.

    Shape:
        (B, input_nc, H, W) -> list over scales, full resolution first, of lists of
        tensors (``n_layers + 2`` with ``getIntermFeat``, else 1).
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
                 use_sigmoid: bool = False, num_D: int = 3, getIntermFeat: bool = False) -> None:  # noqa: N803
        super().__init__()
        if num_D < 1:
            raise ValueError(f"MultiscaleDiscriminator: num_D must be >= 1, got {num_D}")
        self.num_D = num_D
        self.n_layers = n_layers
        self.getIntermFeat = getIntermFeat
        for i in range(num_D):
            net = NLayerDiscriminator(input_nc, ndf, n_layers, norm, use_sigmoid, getIntermFeat)
            if getIntermFeat:
                # the Sigmoid group (model{n_layers+2}) is left out, as in the reference
                for j in range(n_layers + 2):
                    setattr(self, f"scale{i}_layer{j}", getattr(net, f"model{j}"))
            else:
                setattr(self, f"layer{i}", net.model)
        self.downsample = nn.AvgPool2d(3, stride=2, padding=(1, 1), count_include_pad=False)

    def _scale(self, index: int, x: torch.Tensor) -> list[torch.Tensor]:
        if not self.getIntermFeat:
            return [getattr(self, f"layer{index}")(x)]
        outputs = []
        for j in range(self.n_layers + 2):
            x = getattr(self, f"scale{index}_layer{j}")(x)
            outputs.append(x)
        return outputs

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        result = []
        for i in range(self.num_D):
            result.append(self._scale(self.num_D - 1 - i, x))
            if i != self.num_D - 1:
                x = self.downsample(x)
        return result


def build_multiscale(input_nc: int = 39, ndf: int = 64, n_layers: int | None = None, norm: str = "instance",
                     use_sigmoid: bool = False, num_D: int = 3, getIntermFeat: bool = False,  # noqa: N803
                     n_layers_D: int | None = None) -> MultiscaleDiscriminator:  # noqa: N803
    """Registry builder for ``multiscale`` with the reference init (``define_D``; ``n_layers`` alias ``n_layers_D``)."""
    layers = n_layers if n_layers is not None else (n_layers_D if n_layers_D is not None else 3)
    return init_weights(MultiscaleDiscriminator(input_nc, ndf, layers, norm, use_sigmoid, num_D, getIntermFeat))
