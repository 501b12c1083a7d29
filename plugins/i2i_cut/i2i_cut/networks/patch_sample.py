"""netF: samples the same patch positions from a list of feature maps and projects them.

For each tapped layer ``l`` the rows are ``feat.permute(0, 2, 3, 1).flatten(1, 2)[:, ids_l]``
flattened batch-major (all rows of image 0 first), optionally passed through a two-layer MLP
``mlp_<l>`` = Linear(C_l, nc), ReLU, Linear(nc, nc), then divided by their L2 norm + 1e-7.

The MLPs' input widths are those of the generator's taps, so they are created by
:meth:`PatchSampleF.create_mlps` once the channel counts are known (the recipe does it at
build time, before any optimizer or DDP wrapper exists). The patch ids are chosen by the
caller: netF itself draws nothing.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .init import init_weights

#: added to the L2 norm before dividing (the reference's ``Normalize``)
L2_EPS = 1e-7


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Each row divided by its L2 norm + 1e-7."""
    return x / (x.pow(2).sum(1, keepdim=True).pow(0.5) + L2_EPS)


class PatchSampleF(nn.Module):
    """Patch sampler with optional per-layer MLP heads (the reference's ``mlp_sample`` / ``sample``).

    Args:
        use_mlp: project the sampled rows with one MLP per layer (``mlp_sample``).
        nc: width of the MLPs' hidden and output layers (``netF_nc``).

    Shape:
        - feats: list of (B, C_l, H_l, W_l); patch_ids: list of int64 (k_l,) indices into H_l * W_l.
        - output: list of (B * k_l, nc) with the MLPs, (B * k_l, C_l) without.
    """

    def __init__(self, use_mlp: bool = True, nc: int = 256) -> None:
        super().__init__()
        self.use_mlp = use_mlp
        self.nc = nc
        self.channels: tuple[int, ...] = ()

    def create_mlps(self, channels: Sequence[int], init_type: str = "xavier", init_gain: float = 0.02) -> None:
        """Create ``mlp_<l>`` for taps with ``channels[l]`` channels and initialise them.

        Construction first, then the init function over the whole module, as the reference does
        on its first forward: with the same torch RNG state the weights are the reference's.
        """
        if not self.use_mlp:
            self.channels = tuple(channels)
            return
        if self.channels:
            raise RuntimeError(f"netF already has MLPs for channels {list(self.channels)}")
        for index, c in enumerate(channels):
            self.add_module(f"mlp_{index}", nn.Sequential(nn.Linear(c, self.nc), nn.ReLU(), nn.Linear(self.nc, self.nc)))
        self.channels = tuple(channels)
        init_weights(self, init_type, init_gain)

    def forward(self, feats: Sequence[torch.Tensor], patch_ids: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(feats) != len(patch_ids):
            raise ValueError(f"netF got {len(feats)} feature maps but {len(patch_ids)} patch-id sets")
        if self.use_mlp and len(feats) != len(self.channels):
            raise RuntimeError(f"netF has MLPs for {len(self.channels)} layers but got {len(feats)} feature maps; "
                               "call create_mlps with the generator's tap channels first")
        out = []
        for index, (feat, ids) in enumerate(zip(feats, patch_ids, strict=True)):
            rows = feat.permute(0, 2, 3, 1).flatten(1, 2)[:, ids.to(feat.device), :].flatten(0, 1)
            if self.use_mlp:
                rows = getattr(self, f"mlp_{index}")(rows)
            out.append(l2_normalize(rows))
        return out

    def extra_repr(self) -> str:
        return f"use_mlp={self.use_mlp}, nc={self.nc}, channels={list(self.channels)}"
