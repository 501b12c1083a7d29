"""i2i plugin: CycleGAN (Zhu et al., ICCV 2017).

Registers the ``cyclegan`` recipe in two variants (junyanz/pytorch-CycleGAN-and-pix2pix and
the "Hands-On GANs with PyTorch 1.x" book chapter), the book's networks
(``book_generator``, ``book_discriminator``), dataset presets and the ``junyanz_cyclegan`` and
``book`` checkpoint importers. The junyanz networks come from the pix2pix plugin through the
architecture registry.
"""

from __future__ import annotations

__version__ = "0.1.0"
