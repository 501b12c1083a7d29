"""Networks of the pix2pixHD plugin, one family per file, with NVIDIA's state-dict keys."""

from __future__ import annotations

from .encoder import Encoder, build_encoder, instance_mean
from .global_generator import GlobalGenerator, build_global
from .local_enhancer import LocalEnhancer, build_local
from .multiscale_discriminator import MultiscaleDiscriminator, build_multiscale
from .nlayer_discriminator import NLayerDiscriminator, build_hd_n_layers

__all__ = ["Encoder", "GlobalGenerator", "LocalEnhancer", "MultiscaleDiscriminator", "NLayerDiscriminator",
           "build_encoder", "build_global", "build_hd_n_layers", "build_local", "build_multiscale", "instance_mean"]
