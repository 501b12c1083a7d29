"""Hook implementations of the CycleGAN plugin (entry point ``cyclegan``)."""

from __future__ import annotations

from typing import Any

from i2i_core import hookimpl, register_table
from i2i_core import register_presets as register_preset_table

from .networks import book_discriminator, book_generator
from .presets import PRESETS


@hookimpl
def register_architectures(register: Any) -> None:
    register("book_generator", book_generator, role="generator",
             description="Hands-On GANs (ch. 6) CycleGAN ResNet generator; kwargs channels, num_blocks, width_div")
    register("book_discriminator", book_discriminator, role="discriminator",
             description="Hands-On GANs (ch. 6) CycleGAN 70x70 PatchGAN; kwargs channels, width_div")


@hookimpl
def register_recipes(register: Any) -> None:
    from .recipe import CycleGANRecipe

    register("cyclegan", CycleGANRecipe,
             description="CycleGAN: two generators, two PatchGANs, cycle + identity losses on unpaired images "
                         "(variants junyanz, book)")


@hookimpl
def register_presets(register: Any) -> None:
    register_preset_table(register, "cyclegan", PRESETS)


@hookimpl
def register_importers(register: Any) -> None:
    from .importers import import_book, import_junyanz_cyclegan

    register_table(register, {
        "junyanz_cyclegan": (import_junyanz_cyclegan, "junyanz CycleGAN checkpoints: <epoch>_net_{G_A,G_B,D_A,D_B}.pth "
                                                      "or a zoo latest_net_G.pth"),
        "book": (import_book, "Hands-On GANs (ch. 6) CycleGAN files cyclegan_{G_AB,G_BA,D_A,D_B}.pt"),
    })
