"""The options every junyanz-style image GAN recipe shares: channels, widths, normalisation, init, loss.

pix2pix and CycleGAN (and any recipe built on junyanz/pytorch-CycleGAN-and-pix2pix networks)
take the same nine options from the reference's ``BaseOptions``. They live here, once, because
plugins never import each other. The defaults are ``BaseOptions``' own; a recipe whose reference
model changes one (pix2pix: ``norm="batch"``, ``gan_mode="vanilla"``; CycleGAN:
``no_dropout=True``, as their ``modify_commandline_options`` do) redeclares that field with the
types below.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from i2i_core.recipe.contract import RecipeConfig

__all__ = ["GANMode", "ImageGANConfig", "NormName"]

#: normalisation layers of the reference's generators and discriminators
NormName = Literal["batch", "instance", "none"]
#: adversarial objectives of :class:`i2i_core.GANLoss`
GANMode = Literal["vanilla", "lsgan", "wgangp", "hinge"]


class ImageGANConfig(RecipeConfig):
    """Base of the ``model.*`` options of an image GAN recipe (junyanz ``BaseOptions`` names and defaults).

    Subclass it, add the recipe's own options (generator and discriminator names, loss
    weights) and redeclare a field whose default differs:

    Example:
        >>> class MyConfig(ImageGANConfig):  # doctest: +SKIP
        ...     norm: NormName = Field("batch", description="normalisation of G and D")
        ...     lambda_L1: float = Field(100.0, ge=0, description="weight of the L1 term")
    """

    input_nc: int = Field(3, gt=0, description="channels of the input images (domain A)")
    output_nc: int = Field(3, gt=0, description="channels of the output images (domain B)")
    ngf: int = Field(64, gt=0, description="generator width (filters of its first/last conv)")
    ndf: int = Field(64, gt=0, description="discriminator width (filters of its first conv)")
    norm: NormName = Field("instance", description="normalisation of G and D")
    init_type: Literal["normal", "xavier", "kaiming", "orthogonal"] = Field("normal", description="weight init")
    init_gain: float = Field(0.02, ge=0, description="scale of the normal/xavier/orthogonal init")
    no_dropout: bool = Field(False, description="no dropout in the generator")
    gan_mode: GANMode = Field("lsgan", description="adversarial loss")
