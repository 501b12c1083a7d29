"""Running a fully convolutional generator at any size: padding to its size multiple and tiling.

:class:`ShapedGenerator` wraps a generator so that a recipe's own ``translate`` runs at the
input's native resolution: the input is reflect-padded to the generator's size multiple
(U-Net ``2**downs``, ResNet 4, pix2pixHD ``2**(n_downsample_global + n_local_enhancers)``),
translated, and cropped back. With ``tile`` set, inputs larger than a tile are cut into
overlapping tiles whose outputs are blended with a raised-cosine window (no seams) ``blend``
pixels wide, centred on the middle of each overlap.

Exactness. A tile's output is used (with weight > 0) up to ``(overlap - blend) / 2`` pixels
from its edges; when that covers the generator's receptive radius, and tiles start on multiples of the
size multiple (so every stride-2 layer sees the same pixel grid as in one pass), tiled
output equals the one-pass output to float rounding. Layers that normalise with
per-image statistics (InstanceNorm; BatchNorm in train mode, the reference test.py's
default) would still see other statistics per tile, so with ``norm_stats="global"`` those
statistics are first gathered over the whole image, one layer at a time: pass ``k`` runs
every tile up to the ``k``-th such layer (earlier ones already using whole-image statistics)
and accumulates sums over the tile's own part. That costs about ``L / 2`` extra forward
passes for ``L`` such layers; ``norm_stats="tile"`` skips it and lets each tile normalise
itself (faster, not exact; ``benchmarks/tiled_inference.py`` measures what it changes).
"""

from __future__ import annotations

import math
import types
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from i2i_core.base.errors import ConfigError

NormStats = Literal["global", "tile"]
_PROBE = 1 << 12  # probe side on the meta device: no memory, any stride product up to 4096 shows


# --- what the generator needs ------------------------------------------------------------


def _meta_probe(net: nn.Module, side: int = _PROBE) -> tuple[int, list[tuple[int, int]], int]:
    """Run ``net`` on a meta tensor: ``(input channels, [(min side, bytes) per leaf output], output channels)``."""
    from torch.func import functional_call

    first = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise ConfigError(f"{type(net).__name__} has no Conv2d layer; expected a convolutional generator")
    seen: list[tuple[int, int]] = []

    def hook(_m: nn.Module, _i: object, out: object) -> None:
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            seen.append((min(out.shape[-2:]), out.numel() * 4))

    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    state = {k: torch.empty_like(v, device="meta") for k, v in [*net.named_parameters(), *net.named_buffers()]}
    try:
        with torch.no_grad():
            out = functional_call(net, state, (torch.empty(1, first.in_channels, side, side, device="meta"),))
    finally:
        for h in handles:
            h.remove()
    out_channels = out.shape[1] if isinstance(out, torch.Tensor) and out.dim() == 4 else 0
    return first.in_channels, seen, out_channels


def channels(net: nn.Module) -> tuple[int, int]:
    """``(input, output)`` channels of a convolutional generator: its first ``Conv2d``'s input, and
    what a meta-tensor forward returns (no memory, no compute)."""
    in_channels, _, out_channels = _meta_probe(net)
    if not out_channels:
        raise ConfigError(f"{type(net).__name__} does not return an (N, C, H, W) tensor; expected an image generator")
    return in_channels, out_channels


def size_multiple(net: nn.Module) -> int:
    """The multiple both image sides must be for ``net`` (``net.size_multiple`` when it says).

    Found by running the network on a 4096x4096 meta tensor (no memory, no compute) and
    dividing by the smallest feature map it makes: the product of the strides on its
    deepest path.
    """
    explicit = getattr(net, "size_multiple", None)
    if isinstance(explicit, int) and explicit > 0:
        return explicit
    _, seen, _ = _meta_probe(net)
    smallest = min(s for s, _ in seen)
    return max(1, _PROBE // max(1, smallest))


def activation_bytes_per_pixel(net: nn.Module) -> float:
    """An upper bound of the activation memory per input pixel (fp32, batch 1): every layer's
    output counted as if all were alive at once."""
    _, seen, _ = _meta_probe(net, 512)
    return sum(b for _, b in seen) / (512 * 512)


def auto_tile(net: nn.Module, max_memory: int, multiple: int, overlap: int) -> int:
    """The largest tile side (a multiple of ``multiple``, > ``overlap``) whose activations fit ``max_memory`` bytes."""
    side = int(math.sqrt(max_memory / activation_bytes_per_pixel(net)))
    side = side // multiple * multiple
    if side <= overlap:
        need = activation_bytes_per_pixel(net) * (overlap + multiple) ** 2
        raise ConfigError(f"--max-memory {max_memory / 2**20:.0f} MiB is too small for this generator with --overlap "
                          f"{overlap}: a tile of {overlap + multiple} px needs about {need / 2**20:.0f} MiB")
    return side


# --- padding --------------------------------------------------------------------------------


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (N, C, H, W) at the bottom/right up to multiples of ``multiple``; returns ``(padded, (H, W))``.

    Reflection keeps image statistics near the border; a side too small to reflect that far is
    padded by replication instead.
    """
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


# --- tiles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """One tile along one axis: input ``[start, start + size)``; its own part ``[own0, own1)``
    (tiles' own parts partition the axis); overlaps with the neighbours ``before`` / ``after``."""

    start: int
    size: int
    own0: int
    own1: int
    before: int
    after: int


def spans(length: int, tile: int, overlap: int, multiple: int) -> list[Span]:
    """Cut an axis of ``length`` (a multiple of ``multiple``) into tiles on the ``multiple`` grid."""
    if length <= tile:
        return [Span(0, length, 0, length, 0, 0)]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    out = []
    for k, s in enumerate(starts):
        before = starts[k - 1] + tile - s if k else 0
        after = s + tile - starts[k + 1] if k + 1 < len(starts) else 0
        # own part: from the middle of the overlap with the previous tile to the middle of the next one
        own0 = 0 if not k else (s + starts[k - 1] + tile) // 2 // multiple * multiple
        own1 = length if k + 1 == len(starts) else (starts[k + 1] + s + tile) // 2 // multiple * multiple
        out.append(Span(s, tile, own0, own1, before, after))
    return out


def _ramp(span: Span, blend: int, device: torch.device) -> torch.Tensor:
    """Weights over a tile: 1 on its own part, raised-cosine ramps ``blend`` px wide centred on
    the boundaries with its neighbours, 0 beyond; two neighbours' weights sum to one."""
    a = torch.arange(span.start, span.start + span.size, dtype=torch.float64) + 0.5
    w = torch.ones(span.size, dtype=torch.float64)
    if span.before:
        b = max(1, min(blend, 2 * (span.own0 - span.start)))
        t = ((a - (span.own0 - b / 2)) / b).clamp(0, 1)
        w = w * (0.5 - 0.5 * torch.cos(math.pi * t))
    if span.after:
        b = max(1, min(blend, 2 * (span.start + span.size - span.own1)))
        t = ((a - (span.own1 - b / 2)) / b).clamp(0, 1)
        w = w * (0.5 + 0.5 * torch.cos(math.pi * t))
    return w.to(device=device, dtype=torch.float32)


# --- per-image normalisation statistics -------------------------------------------------------


def per_image_norms(net: nn.Module) -> list[_NormBase]:
    """Layers whose output depends on statistics of the whole image in ``net``'s current mode."""
    found: list[_NormBase] = []
    for m in net.modules():
        if isinstance(m, nn.modules.instancenorm._InstanceNorm) and (m.training or not m.track_running_stats):
            found.append(m)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and (m.training or not m.track_running_stats):
            found.append(m)
    return found


class _Stop(Exception):
    """Ends a statistics pass once the layer being measured has seen its input."""


def _normalise(m: _NormBase, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    shape = (*mean.shape, 1, 1)
    y = (x - mean.view(shape).to(x.dtype)) * torch.rsqrt(var.view(shape) + m.eps).to(x.dtype)
    if m.affine and m.weight is not None and m.bias is not None:
        y = y * m.weight.view(1, -1, 1, 1) + m.bias.view(1, -1, 1, 1)
    return y


@contextmanager
def _frozen_norms(norms: list[_NormBase], stats: dict[int, tuple[torch.Tensor, torch.Tensor]],
                  collect: dict | None = None) -> Iterator[None]:
    """Norm layers use ``stats`` (whole-image mean/var); the first one without stats, when
    ``collect`` is given, adds its input's sums over the current own region then stops the pass."""

    def forward(m: _NormBase, x: torch.Tensor) -> torch.Tensor:
        key = id(m)
        if key in stats:
            mean, var = stats[key]
            return _normalise(m, x, mean, var)
        if collect is None:
            raise RuntimeError("normalisation layer without gathered statistics")
        (y0, y1, x0, x1), (th, tw) = collect["region"]
        sy, sx = th / x.shape[-2], tw / x.shape[-1]
        part = x[..., round(y0 / sy): round(y1 / sy), round(x0 / sx): round(x1 / sx)].double()
        acc = collect.setdefault(key, [0.0, 0.0, 0])
        acc[0] = acc[0] + part.sum(dim=(-2, -1))
        acc[1] = acc[1] + (part * part).sum(dim=(-2, -1))
        acc[2] += part.shape[-2] * part.shape[-1]
        collect["layer"] = m
        raise _Stop

    for m in norms:
        m.forward = types.MethodType(forward, m)
    try:
        yield
    finally:
        for m in norms:
            del m.forward


def gather_norm_stats(net: nn.Module, x: torch.Tensor, ys: list[Span], xs: list[Span]) -> dict:
    """Whole-image mean/var of every per-image norm layer of ``net`` for input ``x``, tile by tile."""
    norms = per_image_norms(net)
    stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for _ in range(len(norms)):
        collect: dict = {}
        for sy in ys:
            for sx in xs:
                # contiguous: convolutions on a strided view of the big image take a slow path
                crop = x[..., sy.start: sy.start + sy.size, sx.start: sx.start + sx.size].contiguous()
                region = (sy.own0 - sy.start, sy.own1 - sy.start, sx.own0 - sx.start, sx.own1 - sx.start)
                collect["region"] = (region, (sy.size, sx.size))
                with _frozen_norms(norms, stats, collect):
                    try:
                        net(crop)
                    except _Stop:
                        continue
                return stats  # a full pass without an unmeasured layer: the rest are never called
        layer = collect["layer"]
        s, s2, n = collect[id(layer)]
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):  # batch statistics: over the batch too
            s, s2, n = s.sum(0, keepdim=True), s2.sum(0, keepdim=True), n * x.shape[0]
            mean, var = (s / n)[0], (s2 / n)[0] - (s / n)[0] ** 2
        else:
            mean, var = s / n, s2 / n - (s / n) ** 2
        stats[id(layer)] = (mean.float(), var.clamp_min(0).float())
    return stats


# --- the wrapper ------------------------------------------------------------------------------


class ShapedGenerator(nn.Module):
    """A generator that takes any input size: pad to its multiple, optionally tile, crop back.

    Args:
        net: the generator (fully convolutional; output the input's size).
        multiple: its size multiple (default: :func:`size_multiple`).
        tile: tile side in pixels (rounded down to ``multiple``); None: one pass.
        overlap: pixels shared by neighbouring tiles (rounded up to ``2 * multiple``).
        blend: width of the blending ramp inside each overlap (default ``overlap // 4``); 0: a hard cut.
        norm_stats: ``"global"``: per-image norm layers use whole-image statistics;
            ``"tile"``: each tile its own.

    Shape:
        - Input: (N, C, H, W), any H and W.
        - Output: (N, C_out, H, W).
    """

    def __init__(self, net: nn.Module, multiple: int | None = None, tile: int | None = None, overlap: int = 64,
                 norm_stats: NormStats = "global", blend: int | None = None) -> None:
        super().__init__()
        self.net = net
        self.multiple = multiple or size_multiple(net)
        m = self.multiple
        self.overlap = -(-overlap // (2 * m)) * (2 * m) if tile else 0
        self.tile = max(m, tile // m * m) if tile else None
        if self.tile is not None and self.tile <= self.overlap:
            raise ConfigError(f"--tile {tile} must be larger than --overlap {overlap} (after rounding to the "
                              f"generator's size multiple {m}: tile {self.tile}, overlap {self.overlap})")
        if norm_stats not in ("global", "tile"):
            raise ConfigError(f"norm_stats {norm_stats!r}: expected 'global' or 'tile'")
        self.norm_stats = norm_stats
        self.blend = self.overlap // 4 if blend is None else max(0, int(blend))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded, (h, w) = pad_to_multiple(x, self.multiple)
        if self.tile is None or max(padded.shape[-2:]) <= self.tile:
            out = self.net(padded)
        else:
            out = self.tiled(padded)
        return out[..., :h, :w]

    def tiled(self, x: torch.Tensor) -> torch.Tensor:
        """Tile ``x`` (sides already multiples of the size multiple) and blend the outputs."""
        tile = self.tile
        assert tile is not None  # forward() tiles only with a tile size
        ys = spans(x.shape[-2], tile, self.overlap, self.multiple)
        xs = spans(x.shape[-1], tile, self.overlap, self.multiple)
        norms = per_image_norms(self.net)
        stats = gather_norm_stats(self.net, x, ys, xs) if norms and self.norm_stats == "global" else {}
        out: torch.Tensor | None = None
        weight: torch.Tensor | None = None
        with _frozen_norms([n for n in norms if id(n) in stats], stats):
            for sy in ys:
                wy = _ramp(sy, self.blend, x.device)
                for sx in xs:
                    y = self.net(x[..., sy.start: sy.start + sy.size, sx.start: sx.start + sx.size].contiguous())
                    if out is None or weight is None:
                        out = y.new_zeros((*y.shape[:2], *x.shape[-2:]))
                        weight = torch.zeros(x.shape[-2:], device=y.device, dtype=y.dtype)
                    wt = (wy[:, None] * _ramp(sx, self.blend, x.device)[None, :]).to(y.dtype)
                    out[..., sy.start: sy.start + sy.size, sx.start: sx.start + sx.size] += y * wt
                    weight[sy.start: sy.start + sy.size, sx.start: sx.start + sx.size] += wt
        assert out is not None and weight is not None  # spans() yields at least one tile
        return out / weight
