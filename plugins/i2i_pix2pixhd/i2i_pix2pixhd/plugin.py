"""Hook implementations of the ``pix2pixhd`` plugin (loaded through the ``i2i`` entry point)."""

from __future__ import annotations

from typing import Any

from i2i_core import hookimpl, register_table
from i2i_core import register_presets as register_preset_table

from .presets import PRESETS


@hookimpl
def register_architectures(register: Any) -> None:
    from .networks import build_encoder, build_global, build_hd_n_layers, build_local, build_multiscale

    register_table(register, {
        "global": (build_global, "pix2pixHD GlobalGenerator (512p G1): conv-downsample, residual blocks, upsample"),
        "local": (build_local, "pix2pixHD LocalEnhancer: global G plus n_local_enhancers coarse-to-fine enhancers"),
    }, role="generator")
    register("encoder", build_encoder, role="encoder",
             description="pix2pixHD feature encoder E with instance-wise average pooling")
    register_table(register, {
        "hd_n_layers": (build_hd_n_layers, "pix2pixHD PatchGAN (padding 2, biased convs, optional intermediate features)"),
        "multiscale": (build_multiscale, "pix2pixHD multi-scale discriminator: num_D PatchGANs on an image pyramid"),
    }, role="discriminator")


@hookimpl
def register_losses(register: Any) -> None:
    from .losses import FeatureMatchingLoss, GANLoss, VGGLoss

    register_table(register, {
        "pix2pixhd_gan": (GANLoss, "pix2pixHD GAN loss: LSGAN/BCE on each scale's last output, summed over scales"),
        "pix2pixhd_feat": (FeatureMatchingLoss, "pix2pixHD discriminator feature matching "
                                                "(1/num_D x 4/(n_layers_D+1) x lambda_feat)"),
        "vgg19": (VGGLoss, "VGG19 perceptual loss (relu1_1..relu5_1, weights 1/32..1) from a local weights file"),
    })


@hookimpl
def register_recipes(register: Any) -> None:
    from .recipe import Pix2PixHDRecipe

    register("pix2pixhd", Pix2PixHDRecipe,
             description="pix2pixHD: label maps to photos with multi-scale D, feature matching, local enhancers")


@hookimpl
def register_presets(register: Any) -> None:
    register_preset_table(register, "pix2pixhd", PRESETS)


@hookimpl
def register_importers(register: Any) -> None:
    from .importers import import_pix2pixhd

    register("pix2pixhd", import_pix2pixhd,
             description="NVIDIA pix2pixHD <epoch>_net_G/D/E.pth (global, local, multiscale D, encoder)")


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import add_commands

    add_commands(cli)
