"""pix2pixHD's own PatchGAN discriminator (registry name ``hd_n_layers``).

It differs from junyanz's ``n_layers``: padding 2 (``ceil((4 - 1) / 2)``), every
convolution biased, channels ``min(2 * nf, 512)``, and with ``getIntermFeat`` the
layers are split into ``model0 .. model{n_layers+1}`` whose outputs are all returned
(for the feature-matching loss). Layout, kernel 4 everywhere:

    model0: Conv/s2 (input_nc -> ndf), LeakyReLU(0.2)
    model1..model{n_layers-1}: Conv/s2, norm, LeakyReLU(0.2)
    model{n_layers}: Conv/s1, norm, LeakyReLU(0.2)
    model{n_layers+1}: Conv/s1 (-> 1)
    [Sigmoid with use_sigmoid]

Without ``getIntermFeat`` the same modules form one ``model`` Sequential.
"""

from __future__ import annotations

import torch
from torch import nn

from ._layers import init_weights, norm_factory

KERNEL, PADDING = 4, 2


def patch_layers(input_nc: int, ndf: int, n_layers: int, norm: str, use_sigmoid: bool) -> list[list[nn.Module]]:
    """The PatchGAN as a list of layer groups (``model0``, ``model1``, ...)."""
    norm_layer = norm_factory(norm)
    groups: list[list[nn.Module]] = [[nn.Conv2d(input_nc, ndf, KERNEL, stride=2, padding=PADDING),
                                      nn.LeakyReLU(0.2, True)]]
    nf = ndf
    for _ in range(1, n_layers):
        prev, nf = nf, min(nf * 2, 512)
        groups.append([nn.Conv2d(prev, nf, KERNEL, stride=2, padding=PADDING), norm_layer(nf), nn.LeakyReLU(0.2, True)])
    prev, nf = nf, min(nf * 2, 512)
    groups.append([nn.Conv2d(prev, nf, KERNEL, stride=1, padding=PADDING), norm_layer(nf), nn.LeakyReLU(0.2, True)])
    groups.append([nn.Conv2d(nf, 1, KERNEL, stride=1, padding=PADDING)])
    if use_sigmoid:
        groups.append([nn.Sigmoid()])
    return groups


class NLayerDiscriminator(nn.Module):
    """pix2pixHD's PatchGAN.

    Args:
        input_nc: input channels.
        ndf: width of the first convolution.
        n_layers: stride-2 convolutions.
        norm: ``instance`` or ``batch``.
        use_sigmoid: end with a Sigmoid (``--no_lsgan``). With ``getIntermFeat`` the
            Sigmoid is registered as ``model{n_layers+2}`` but, as in the reference,
            never applied.
        getIntermFeat: return every group's output instead of the final map.

    Shape:
        (B, input_nc, H, W) -> (B, 1, H', W') or a list of the ``n_layers + 2`` group outputs.
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
                 use_sigmoid: bool = False, getIntermFeat: bool = False) -> None:  # noqa: N803 - reference name
        super().__init__()
        self.getIntermFeat = getIntermFeat
        self.n_layers = n_layers
        groups = patch_layers(input_nc, ndf, n_layers, norm, use_sigmoid)
        if getIntermFeat:
            for n, group in enumerate(groups):
                setattr(self, f"model{n}", nn.Sequential(*group))
        else:
            self.model = nn.Sequential(*[m for group in groups for m in group])

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if not self.getIntermFeat:
            return self.model(x)
        outputs = []
        for n in range(self.n_layers + 2):
            x = getattr(self, f"model{n}")(x)
            outputs.append(x)
        return outputs


def build_hd_n_layers(input_nc: int = 3, ndf: int = 64, n_layers: int | None = None, norm: str = "instance",
                      use_sigmoid: bool = False, getIntermFeat: bool = False,  # noqa: N803 - reference name
                      n_layers_D: int | None = None) -> NLayerDiscriminator:  # noqa: N803 - reference name
    """Registry builder for ``hd_n_layers`` with the reference init (``n_layers`` alias ``n_layers_D``, default 3)."""
    layers = n_layers if n_layers is not None else (n_layers_D if n_layers_D is not None else 3)
    return init_weights(NLayerDiscriminator(input_nc, ndf, layers, norm, use_sigmoid, getIntermFeat))
