"""Weight initialisation of CUT's networks (the reference's ``init_weights``).

Convolution, transposed-convolution and linear weights are drawn from the chosen scheme and
their biases set to 0; BatchNorm weights come from N(1, gain) with zero bias. The modules are
visited in ``nn.Module.apply`` order, so with one torch seed the draws land on the same
tensors as in the reference (CUT's default is ``xavier`` with gain 0.02, not junyanz's normal).
"""

from __future__ import annotations

from typing import Literal, TypeVar

from torch import nn

InitType = Literal["normal", "xavier", "kaiming", "orthogonal"]
INIT_TYPES: tuple[str, ...] = ("normal", "xavier", "kaiming", "orthogonal")
_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
NetT = TypeVar("NetT", bound=nn.Module)


def init_weights(net: NetT, init_type: str = "xavier", init_gain: float = 0.02) -> NetT:
    """Re-initialise ``net`` in place and return it.

    Raises:
        ValueError: ``init_type`` is not one of :data:`INIT_TYPES`.
    """
    if init_type not in INIT_TYPES:
        raise ValueError(f"init_type {init_type!r}: expected one of {', '.join(INIT_TYPES)}")

    def visit(m: nn.Module) -> None:
        if isinstance(m, _WEIGHTED):
            if init_type == "normal":
                nn.init.normal_(m.weight, 0.0, init_gain)
            elif init_type == "xavier":
                nn.init.xavier_normal_(m.weight, gain=init_gain)
            elif init_type == "kaiming":
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            else:
                nn.init.orthogonal_(m.weight, gain=init_gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, init_gain)
            nn.init.zeros_(m.bias)

    net.apply(visit)
    return net
