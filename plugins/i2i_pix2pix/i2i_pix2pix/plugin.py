"""Hook implementations of the pix2pix plugin (entry point ``pix2pix``)."""

from __future__ import annotations

from typing import Any

from i2i_core import hookimpl, register_table
from i2i_core import register_presets as register_preset_table

from . import networks as nets
from .presets import PRESETS

GENERATORS = {
    "unet_256": (nets.unet_256, "pix2pix U-Net, 8 downsamplings (256x256 inputs)"),
    "unet_128": (nets.unet_128, "pix2pix U-Net, 7 downsamplings (128x128 inputs)"),
    "unet": (nets.unet, "pix2pix U-Net with num_downs downsamplings"),
    "resnet_9blocks": (nets.resnet_9blocks, "ResNet generator, 9 residual blocks"),
    "resnet_6blocks": (nets.resnet_6blocks, "ResNet generator, 6 residual blocks"),
    "resnet": (nets.resnet, "ResNet generator with n_blocks blocks and padding_type"),
}
DISCRIMINATORS = {
    "basic": (nets.basic, "70x70 PatchGAN (3 strided layers)"),
    "n_layers": (nets.n_layers, "PatchGAN with n_layers strided layers"),
    "pixel": (nets.pixel, "1x1 PixelGAN"),
}


@hookimpl
def register_architectures(register: Any) -> None:
    register_table(register, GENERATORS, role="generator")
    register_table(register, DISCRIMINATORS, role="discriminator")


@hookimpl
def register_recipes(register: Any) -> None:
    from .recipe import Pix2PixRecipe

    register("pix2pix", Pix2PixRecipe, description="pix2pix: conditional PatchGAN + L1 on aligned pairs")


@hookimpl
def register_presets(register: Any) -> None:
    register_preset_table(register, "pix2pix", PRESETS)


@hookimpl
def register_importers(register: Any) -> None:
    from .importers import import_junyanz

    register("junyanz", import_junyanz,
             description="junyanz/pytorch-CycleGAN-and-pix2pix generator .pth (pix2pix and CycleGAN zoos)")
