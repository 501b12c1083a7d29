"""Antialiased resampling (Zhang, "Making Convolutional Networks Shift-Invariant Again", 2019).

CUT replaces every stride-2 convolution of its generator and discriminator by a stride-1
convolution followed by :class:`BlurDownsample`, and every transposed convolution of the
generator by :class:`BlurUpsample` followed by a 3x3 convolution. The binomial filters are
constant buffers named ``filt``, so they appear in the state dict (``model.<i>.filt``) exactly
as in the reference's checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: rows of Pascal's triangle: the separable binomial filters by length
_BINOMIAL = {1: (1.0,), 2: (1.0, 1.0), 3: (1.0, 2.0, 1.0), 4: (1.0, 3.0, 3.0, 1.0), 5: (1.0, 4.0, 6.0, 4.0, 1.0)}


def binomial_filter(size: int) -> torch.Tensor:
    """The ``size`` x ``size`` outer product of a binomial row, summing to 1."""
    if size not in _BINOMIAL:
        raise ValueError(f"blur filter size {size}: expected one of {sorted(_BINOMIAL)}")
    row = torch.tensor(_BINOMIAL[size], dtype=torch.float64)
    filt = row[:, None] * row[None, :]
    return (filt / filt.sum()).float()


class BlurDownsample(nn.Module):
    """Reflect-pad by 1, blur each channel with the 3x3 binomial filter, keep every second pixel.

    Shape:
        - input: (B, C, H, W)
        - output: (B, C, ceil(H / 2), ceil(W / 2))
    """

    filt: torch.Tensor  # constant (C, 1, k, k) filter, a buffer

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.register_buffer("filt", binomial_filter(3)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=x.shape[1])

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class BlurUpsample(nn.Module):
    """Twice the resolution: replicate-pad by 1, transposed depthwise blur (4x4 binomial x 4), crop.

    The padding of 1 on each side adds 2 (input) pixels that the transposed convolution turns
    into 4 output pixels; cropping one row/column at the start and, the filter being even, one
    at the end leaves exactly ``2H`` x ``2W``.

    Shape:
        - input: (B, C, H, W)
        - output: (B, C, 2H, 2W)
    """

    filt: torch.Tensor  # constant (C, 1, k, k) filter, a buffer

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        # x4 = stride**2: each output pixel receives a quarter of the filter's taps
        self.register_buffer("filt", (binomial_filter(4) * 4)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        out = F.conv_transpose2d(padded, self.filt, stride=2, padding=2, groups=x.shape[1])
        return out[:, :, 1:-1, 1:-1]

    def extra_repr(self) -> str:
        return f"channels={self.channels}"
