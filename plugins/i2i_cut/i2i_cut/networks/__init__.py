"""CUT's networks: antialiased ResNet generator with feature taps, PatchGAN, netF."""

from __future__ import annotations

from .discriminator import CUTNLayerDiscriminator, cut_n_layer_discriminator
from .generator import CUTResnetGenerator, cut_resnet_generator, generator_depth
from .patch_sample import PatchSampleF

__all__ = ["CUTNLayerDiscriminator", "CUTResnetGenerator", "PatchSampleF", "cut_n_layer_discriminator",
           "cut_resnet_generator", "generator_depth"]
