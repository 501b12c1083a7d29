"""i2i plugin: pix2pix (Isola et al. 2017) as in junyanz/pytorch-CycleGAN-and-pix2pix.

Registers the U-Net/ResNet generators, the PatchGAN/PixelGAN discriminators, the
``pix2pix`` recipe with its presets, and the ``junyanz`` checkpoint importer.
"""

from __future__ import annotations

__version__ = "0.1.0"
