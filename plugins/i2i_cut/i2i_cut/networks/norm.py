"""The normalisation layers CUT's networks take (``normG`` / ``normD``)."""

from __future__ import annotations

from typing import Callable, Literal

from torch import nn

Norm = Literal["instance", "batch", "none"]
NORMS: tuple[str, ...] = ("instance", "batch", "none")


def norm_layer(norm: str) -> Callable[[int], nn.Module]:
    """``channels -> module`` for ``norm``.

    ``none`` gives ``nn.Identity`` placeholders, so the Sequential indices (and the state-dict
    keys) are the same for every norm.
    """
    if norm == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    if norm == "batch":
        return lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
    if norm == "none":
        return lambda c: nn.Identity()
    raise ValueError(f"norm {norm!r}: expected one of {', '.join(NORMS)}")


def conv_bias(norm: str) -> bool:
    """Whether a convolution followed by ``norm`` has a bias.

    BatchNorm's shift makes a bias redundant, and with ``none`` the reference leaves it out as
    well; only InstanceNorm (which has no affine shift here) keeps it.
    """
    return norm == "instance"
