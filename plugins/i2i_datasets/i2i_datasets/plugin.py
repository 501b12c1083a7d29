"""The ``datasets`` i2i plugin: dataset readers and the ``i2i data`` commands."""

from __future__ import annotations

from typing import Any, Callable

from i2i_core import hookimpl

from .readers import build_aligned, build_labels, build_single, build_unaligned


@hookimpl
def register_datasets(register: Callable[..., None]) -> None:
    register("aligned", build_aligned,
             description="pix2pix pairs: A|B side by side in ROOT/<split>/ (same crop and flip for both halves)")
    register("unaligned", build_unaligned,
             description="CycleGAN domains: ROOT/<split>A and ROOT/<split>B (random B per A while training)")
    register("single", build_single, description="one folder of images (ROOT/<split> or ROOT); item key A",
             training=False)  # inputs only: a training run refuses it in one line
    register("labels", build_labels, aliases=("cityscapes",),
             description="pix2pixHD: ROOT/<split>_label (class ids), _inst (optional), _img")


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import data  # click and rich only when the CLI is built

    cli.add_command(data)
