"""Pieces every pix2pixHD network shares: the norm-layer factory and the reference init."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar, cast

import torch
from torch import nn

from i2i_core import ConfigError

NORMS = ("instance", "batch")

#: the network type ``init_weights`` hands back (it initialises in place and returns its argument)
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def norm_factory(norm: str) -> Callable[[int], nn.Module]:
    """``norm`` name -> a ``channels -> module`` factory, as pix2pixHD's ``get_norm_layer``.

    pix2pixHD knows only two: ``batch`` (BatchNorm2d, affine) and ``instance``
    (InstanceNorm2d without affine parameters or running statistics, so it adds no
    state-dict keys). There is no ``none``: the layer indices, hence the key names,
    assume a norm module after every inner convolution.

    Args:
        norm: ``"instance"`` or ``"batch"``.

    Returns:
        A callable building the norm layer for a channel count.

    Raises:
        ConfigError: for any other name.
    """
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False)
    raise ConfigError(f"model.norm={norm!r}: pix2pixHD networks support 'instance' or 'batch'")


def weights_init(module: nn.Module) -> None:
    """pix2pixHD's ``weights_init`` for one module (use with ``net.apply``).

    Conv and transposed-conv weights are drawn from N(0, 0.02) while their biases keep
    PyTorch's default uniform init (the reference never touches them); BatchNorm
    weights come from N(1, 0.02) with zero bias.
    """
    name = type(module).__name__
    # matched by class name like the reference; ``nn.Module.__getattr__`` is typed ``Tensor | Module``, but
    # the weight and bias of a conv or BatchNorm are parameters
    if "Conv" in name:
        nn.init.normal_(cast(torch.Tensor, module.weight), 0.0, 0.02)
    elif "BatchNorm2d" in name:
        nn.init.normal_(cast(torch.Tensor, module.weight), 1.0, 0.02)
        nn.init.zeros_(cast(torch.Tensor, module.bias))


def init_weights(net: ModuleT) -> ModuleT:
    """Apply :func:`weights_init` to every submodule of ``net`` and return it."""
    net.apply(weights_init)
    return net
