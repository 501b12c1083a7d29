"""Small helpers that every plugin needs: registration tables, reader channels, the channel check.

They live in the core because plugins never import each other; each one would otherwise keep
its own copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from i2i_core.base.errors import ConfigError

__all__ = ["check_channels", "register_presets", "register_table", "set_reader_channels"]


def register_presets(register: Callable[..., None], recipe: str,
                     presets: Mapping[str, tuple[dict[str, Any], str]]) -> None:
    """Register a plugin's preset table from its ``register_presets`` hook.

    A generator EMA is not a preset of its own: any preset takes ``i2i run --ema`` (or
    ``trainer.ema_decay``).

    Args:
        register: the hook's ``register(recipe, name, overrides, description=)``.
        recipe: the recipe the presets belong to.
        presets: preset name -> ``(nested overrides, one-line description)``.

    Example:
        >>> from i2i_core import register_presets as register_preset_table  # doctest: +SKIP
        >>> @hookimpl  # doctest: +SKIP
        ... def register_presets(register):
        ...     register_preset_table(register, "pix2pix", PRESETS)
    """
    for name, (overrides, description) in presets.items():
        register(recipe, name, overrides, description=description)


def register_table(register: Callable[..., None], table: Mapping[str, tuple[Any, str]], **options: Any) -> None:
    """Register ``name -> (object, one-line description)`` rows from any registration hook.

    Args:
        register: the hook's ``register(name, obj, description=, ...)``.
        table: what to register, in order.
        options: keyword arguments given to every row, e.g. ``role="discriminator"`` for architectures.

    Example:
        >>> @hookimpl  # doctest: +SKIP
        ... def register_architectures(register):
        ...     register_table(register, GENERATORS, role="generator")
    """
    for name, (obj, description) in table.items():
        register(name, obj, description=description, **options)


def set_reader_channels(dataset: Any, channels: Mapping[str, int]) -> Any:
    """Tell an i2i reader how many channels each image key has, from a recipe's ``configure_dataset``.

    A key with one channel is read as grayscale (the reference's datasets do this when
    ``input_nc``/``output_nc`` is 1), and a file with any other count is then refused in one
    line naming it, in training as in translation. Readers without ``grayscale`` or
    ``channels`` attributes are left as they are.

    Args:
        dataset: a freshly built reader.
        channels: image key -> channels, e.g. ``{"A": config.input_nc, "B": config.output_nc}``.

    Returns:
        ``dataset``, for ``return set_reader_channels(...)``.
    """
    gray = {key for key, nc in channels.items() if nc == 1}
    if gray and hasattr(dataset, "grayscale"):
        dataset.grayscale = gray
    if hasattr(dataset, "channels"):
        dataset.channels = dict(channels)
    return dataset


def check_channels(images: torch.Tensor, config: Any, field: str, what: str) -> None:
    """Raise one line when a batch's images do not have ``config.<field>`` channels.

    Args:
        images: the batch tensor, expected ``(B, C, H, W)``.
        config: the recipe's model config (read with ``getattr``).
        field: the channel option, e.g. ``input_nc``.
        what: how the message names the images, e.g. ``"the batch's 'A'"``.

    Raises:
        ConfigError: ``model.<field> is N but <what> images have M channels; ...``.
    """
    want = getattr(config, field)
    if images.dim() != 4 or images.shape[1] != want:
        got = images.shape[1] if images.dim() == 4 else f"shape {tuple(images.shape)}"
        raise ConfigError(f"model.{field} is {want} but {what} images have {got} channels; "
                          f"set model.{field} to match the data")
