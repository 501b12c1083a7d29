"""Hook implementations of the CUT plugin (entry point ``cut``)."""

from __future__ import annotations

from typing import Any

from i2i_core import hookimpl


@hookimpl
def register_architectures(register: Any) -> None:
    from .networks import PatchSampleF, cut_n_layer_discriminator, cut_resnet_generator

    register("cut_resnet", cut_resnet_generator, role="generator",
             description="CUT ResNet generator with blur-pool resampling and encoder taps (forward(x, layers)); "
                         "kwargs input_nc, output_nc, ngf, norm, n_blocks, no_antialias, no_antialias_up")
    register("cut_n_layers", cut_n_layer_discriminator, role="discriminator",
             description="CUT PatchGAN with blur-pool downsampling; kwargs input_nc, ndf, n_layers, norm, no_antialias")
    register("patch_sample_f", PatchSampleF, role="other",
             description="CUT netF: shared patch sampling + per-layer MLPs (create_mlps(channels) before use)")


@hookimpl
def register_losses(register: Any) -> None:
    from .gan_loss import CUTGANLoss
    from .patchnce import PatchNCELoss

    register("patch_nce", PatchNCELoss, description="CUT PatchNCE (per patch; batch size given per call)")
    register("cut_gan", CUTGANLoss, description="GAN loss with CUT's modes: lsgan, vanilla, wgangp, nonsaturating")


@hookimpl
def register_recipes(register: Any) -> None:
    from .recipe import CUTRecipe

    register("cut", CUTRecipe, description="CUT / FastCUT: one generator, PatchGAN and PatchNCE on unpaired images")


@hookimpl
def register_presets(register: Any) -> None:
    from i2i_core import register_presets as register_preset_table

    from .presets import PRESETS

    register_preset_table(register, "cut", PRESETS)


@hookimpl
def register_importers(register: Any) -> None:
    from .importers import import_cut

    register("cut", import_cut,
             description="taesungp/contrastive-unpaired-translation checkpoints: <epoch>_net_G.pth (netF, netD "
                         "optional) or a pretrained latest_net_G.pth")
