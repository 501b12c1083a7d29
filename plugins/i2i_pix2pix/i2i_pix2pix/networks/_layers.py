"""Building blocks shared by the pix2pix networks: normalisation factory and weight init.

The semantics follow junyanz/pytorch-CycleGAN-and-pix2pix so that state dicts and
initialisations match that reference:

* ``batch``: ``BatchNorm2d(affine=True, track_running_stats=True)``;
* ``instance``: ``InstanceNorm2d(affine=False, track_running_stats=False)`` (no state);
* ``none``: an ``Identity`` placeholder that keeps ``nn.Sequential`` indices (and
  therefore state-dict keys) where the norm would be.

Convolutions followed by a norm carry a bias only with instance norm (batch norm has its
own shift; with ``none`` the reference still drops the bias).
"""

from __future__ import annotations

from typing import Callable, TypeVar

from torch import nn
from torch.nn import init

from i2i_core import ConfigError

NORMS = ("batch", "instance", "none")
INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")
PADDING_TYPES = ("reflect", "replicate", "zero")

NormFactory = Callable[[int], nn.Module]

#: the network type ``init_weights`` hands back (it initialises in place and returns its argument)
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def check_choice(what: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a one-line ConfigError."""
    if value not in choices:
        raise ConfigError(f"{what} {value!r} is not supported; expected one of {', '.join(choices)}")
    return str(value)


def norm_layer(norm: str) -> NormFactory:
    """A factory ``channels -> nn.Module`` for the named normalisation.

    Args:
        norm: ``batch``, ``instance`` or ``none``.

    Returns:
        A callable building one normalisation layer for a channel count.

    Raises:
        ConfigError: unknown ``norm``.

    Example:
        >>> norm = norm_layer("instance")(8)
        >>> norm.affine, norm.track_running_stats
        (False, False)
    """
    check_choice("norm", norm, NORMS)
    if norm == "batch":
        return lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
    if norm == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    return lambda c: nn.Identity()


def conv_bias(norm: str) -> bool:
    """Whether a convolution that feeds ``norm`` gets a bias (only instance norm)."""
    return norm == "instance"


def init_weights(net: ModuleT, init_type: str = "normal", init_gain: float = 0.02) -> ModuleT:
    """Initialise ``net`` in place the way the reference's ``init_weights`` does.

    Conv/ConvTranspose/Linear weights: ``normal`` N(0, gain), ``xavier`` (xavier-normal with
    ``gain``), ``kaiming`` (kaiming-normal, fan_in, a=0) or ``orthogonal`` (with ``gain``);
    their biases 0. BatchNorm2d: weight N(1, gain), bias 0. Modules are visited in
    ``nn.Module.apply`` order (children before parents), which is also the reference's,
    so the same seed gives the same tensors.

    Args:
        net: the network.
        init_type: ``normal``, ``xavier``, ``kaiming`` or ``orthogonal``.
        init_gain: scale of normal/xavier/orthogonal and std of the BN weights.

    Returns:
        ``net`` itself.

    Raises:
        ConfigError: unknown ``init_type``.
    """
    check_choice("init_type", init_type, INIT_TYPES)

    def visit(m: nn.Module) -> None:
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) and getattr(m, "weight", None) is not None:
            w = m.weight.data
            if init_type == "normal":
                init.normal_(w, 0.0, init_gain)
            elif init_type == "xavier":
                init.xavier_normal_(w, gain=init_gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(w, a=0, mode="fan_in")
            else:
                init.orthogonal_(w, gain=init_gain)
            if m.bias is not None:
                init.constant_(m.bias.data, 0.0)
        elif isinstance(m, nn.BatchNorm2d):
            init.normal_(m.weight.data, 1.0, init_gain)
            init.constant_(m.bias.data, 0.0)

    net.apply(visit)
    return net
