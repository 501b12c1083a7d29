"""Hook implementations of the pix2pix plugin (entry point ``pix2pix``)."""

from __future__ import annotations

from typing import Any

from i2i_core import hookimpl

from . import networks as nets


@hookimpl
def register_architectures(register: Any) -> None:
    g, d = "generator", "discriminator"
    register("unet_256", nets.unet_256, role=g, description="pix2pix U-Net, 8 downsamplings (256x256 inputs)")
    register("unet_128", nets.unet_128, role=g, description="pix2pix U-Net, 7 downsamplings (128x128 inputs)")
    register("unet", nets.unet, role=g, description="pix2pix U-Net with num_downs downsamplings")
    register("resnet_9blocks", nets.resnet_9blocks, role=g, description="ResNet generator, 9 residual blocks")
    register("resnet_6blocks", nets.resnet_6blocks, role=g, description="ResNet generator, 6 residual blocks")
    register("resnet", nets.resnet, role=g, description="ResNet generator with n_blocks blocks and padding_type")
    register("basic", nets.basic, role=d, description="70x70 PatchGAN (3 strided layers)")
    register("n_layers", nets.n_layers, role=d, description="PatchGAN with n_layers strided layers")
    register("pixel", nets.pixel, role=d, description="1x1 PixelGAN")


@hookimpl
def register_recipes(register: Any) -> None:
    from .recipe import Pix2PixRecipe

    register("pix2pix", Pix2PixRecipe, description="pix2pix: conditional PatchGAN + L1 on aligned pairs")


@hookimpl
def register_presets(register: Any) -> None:
    from i2i_core import register_presets as register_table

    from .presets import PRESETS

    register_table(register, "pix2pix", PRESETS)


@hookimpl
def register_importers(register: Any) -> None:
    from .importers import import_junyanz

    register("junyanz", import_junyanz,
             description="junyanz/pytorch-CycleGAN-and-pix2pix generator .pth (pix2pix and CycleGAN zoos)")
