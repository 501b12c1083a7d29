"""Spectral-normalised PatchGAN discriminator and a pix2pix preset that uses it."""

from __future__ import annotations

from typing import Any

from torch import nn

from i2i_core import hookimpl


def spectral_patchgan(input_nc: int = 6, ndf: int = 64, n_layers: int = 3, **_reference_kwargs: Any) -> nn.Module:
    """Build a PatchGAN discriminator whose convolutions use spectral norm (no norm layers).

    Args:
        input_nc: channels of the (input, output) pair fed to D.
        ndf: filters in the first conv layer.
        n_layers: number of stride-2 conv layers.
        _reference_kwargs: the other define_D options (norm, init) that spectral norm makes moot.
    """
    sn = nn.utils.parametrizations.spectral_norm
    layers: list[nn.Module] = [sn(nn.Conv2d(input_nc, ndf, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
    ch = ndf
    for _ in range(1, n_layers):
        layers += [sn(nn.Conv2d(ch, ch * 2, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        ch *= 2
    layers.append(sn(nn.Conv2d(ch, 1, 4, 1, 1)))
    return nn.Sequential(*layers)


@hookimpl
def register_architectures(register):
    register("spectral_patchgan", spectral_patchgan, role="discriminator",
             description="PatchGAN with spectral norm (Miyato et al. 2018)")


@hookimpl
def register_presets(register):
    register("pix2pix", "demo-sn", {"extends": "demo", "model": {"netD": "spectral_patchgan", "gan_mode": "hinge"}},
             description="the pix2pix demo with a spectral-norm discriminator and hinge loss")
