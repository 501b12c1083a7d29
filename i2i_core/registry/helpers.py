"""Small helpers that every recipe plugin needs: preset registration and the input channel check.

They live in the core because plugins never import each other; each one would otherwise keep
its own copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from i2i_core.base.errors import ConfigError

__all__ = ["check_channels", "register_presets"]


#: decay of the generator average in the ``<preset>_ema`` family (about the last 1000 steps)
EMA_DECAY = 0.999


def register_presets(register: Callable[..., None], recipe: str,
                     presets: Mapping[str, tuple[dict[str, Any], str]], *, ema_family: bool = True) -> None:
    """Register a plugin's preset table from its ``register_presets`` hook.

    With ``ema_family`` every preset ``NAME`` also gets ``NAME_ema``: the same run keeping an
    exponential moving average of the generators (``trainer.ema_decay`` = :data:`EMA_DECAY`),
    which ``translate`` and ``eval`` then use. The reference presets themselves stay EMA-free.

    Args:
        register: the hook's ``register(recipe, name, overrides, description=)``.
        recipe: the recipe the presets belong to.
        presets: preset name -> ``(nested overrides, one-line description)``.

    Example:
        >>> @hookimpl  # doctest: +SKIP
        ... def register_presets(register):
        ...     plugin_helpers.register_presets(register, "pix2pix", presets.PRESETS)
    """
    for name, (overrides, description) in presets.items():
        register(recipe, name, overrides, description=description)
        if ema_family and not name.endswith("_ema") and f"{name}_ema" not in presets:
            register(recipe, f"{name}_ema", {"extends": name, "trainer": {"ema_decay": EMA_DECAY}},
                     description=f"{name} + generator EMA (decay {EMA_DECAY}) used by translate/eval")


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
