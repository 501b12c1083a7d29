"""The core's default plugin: optimizers and the generic losses."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from i2i_core.registry._markers import hookimpl


def _adam(params: Any, **kwargs: Any) -> torch.optim.Optimizer:
    """Adam (the references' optimizer: lr 2e-4, betas (0.5, 0.999))."""
    return torch.optim.Adam(params, **kwargs)


def _adamw(params: Any, **kwargs: Any) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay)."""
    return torch.optim.AdamW(params, **kwargs)


def _sgd(params: Any, betas: Any = None, fused: bool | None = None, **kwargs: Any) -> torch.optim.Optimizer:
    """SGD with momentum = beta1 when betas are given."""
    if betas is not None and "momentum" not in kwargs:
        kwargs["momentum"] = betas[0]
    return torch.optim.SGD(params, **kwargs)


@hookimpl
def register_optimizers(register: Any) -> None:
    register("adam", _adam, description="torch.optim.Adam")
    register("adamw", _adamw, description="torch.optim.AdamW")
    register("sgd", _sgd, description="torch.optim.SGD (momentum = beta1)")


@hookimpl
def register_losses(register: Any) -> None:
    from i2i_core.recipe import losses

    register("gan", losses.GANLoss, description="GAN loss: vanilla, lsgan, wgangp or hinge")
    register("l1", nn.L1Loss, description="mean absolute error")
    register("mse", nn.MSELoss, description="mean squared error")
