"""From a label/instance batch to the generator input: one-hot labels, edge map, colours for display."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from i2i_core import DataError


def instance_edges(inst: torch.Tensor) -> torch.Tensor:
    """Boundary map of an instance map: 1 where a pixel differs from a 4-neighbour.

    Both pixels of every differing horizontal or vertical pair are marked, as in
    pix2pixHD's ``get_edges``.

    Args:
        inst: (B, 1, H, W) instance ids.

    Returns:
        (B, 1, H, W) float tensor of 0/1.
    """
    # out-of-place (padding, not in-place |= on slices), so ONNX exporters can trace it
    pad = torch.nn.functional.pad
    dx = (inst[..., :, 1:] != inst[..., :, :-1]).float()
    dy = (inst[..., 1:, :] != inst[..., :-1, :]).float()
    edge = torch.maximum(pad(dx, (1, 0)), pad(dx, (0, 1)))
    return torch.maximum(edge, torch.maximum(pad(dy, (0, 0, 1, 0)), pad(dy, (0, 0, 0, 1))))


def _path_of(paths: Any, index: int) -> str:
    if isinstance(paths, str):
        return paths
    if isinstance(paths, Sequence) and len(paths) > index:
        return str(paths[index])
    return "<batch without label_path>"


def _file_mode(path: str) -> str:
    """The PIL mode of an image file (header only), or a note why it is unknown."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return f"mode {im.mode}"
    except Exception:  # the message is built for an error already; never fail while describing it
        return "mode unknown"


def check_label_map(label: torch.Tensor, label_nc: int, label_path: Any = None) -> None:
    """One line when a label batch is not ``(B, 1, H, W)`` class ids while ``label_nc > 0``.

    A colour (RGB) label image is what Cityscapes' ``*_color.png`` or a palette saved as RGB
    gives; the readers then hand over 3 channels in [-1, 1], which are no class ids.

    Raises:
        DataError: naming the first file, its PIL mode, the channels and what is expected.
    """
    if label_nc == 0 or (label.dim() == 4 and label.shape[1] == 1):
        return
    where = _path_of(label_path, 0)
    channels = label.shape[1] if label.dim() == 4 else f"shape {tuple(label.shape)}"
    mode = "mode unknown" if where.startswith("<") else _file_mode(where)
    raise DataError(
        f"{where}: label map ({mode}) has {channels} channels, but model.label_nc={label_nc} expects one channel "
        f"of class ids (a PNG of mode L, P, I or I;16, like Cityscapes' *_labelIds.png); convert the colours "
        f"to ids, or set model.label_nc=0 to feed the label image as it is")


def one_hot(label: torch.Tensor, label_nc: int, label_path: Any = None) -> torch.Tensor:
    """One-hot encode raw label ids with ``scatter_`` into zeros (pix2pixHD's ``encode_input``).

    Args:
        label: (B, 1, H, W) raw integer ids stored as float.
        label_nc: number of classes; every id must lie in ``[0, label_nc)``.
        label_path: the batch's ``label_path`` (a list, one per sample) for error messages.

    Returns:
        (B, label_nc, H, W) float32.

    Raises:
        DataError: not one channel, or an id outside ``[0, label_nc)``, naming the file and the value.
    """
    check_label_map(label, label_nc, label_path)
    ids = label.long()
    lo, hi = torch.aminmax(ids)
    if int(hi) >= label_nc or int(lo) < 0:
        bad = (ids >= label_nc) | (ids < 0)
        sample = int(bad.flatten(1).any(1).nonzero()[0])
        value = int(ids[sample][bad[sample]][0])
        raise DataError(
            f"{_path_of(label_path, sample)}: label value {value} is outside [0, {label_nc}); "
            f"set model.label_nc above the largest id or remap the label map")
    b, _, h, w = label.shape
    return torch.zeros(b, label_nc, h, w, device=label.device).scatter_(1, ids, 1.0)


def encode_input(batch: dict, label_nc: int, no_instance: bool) -> torch.Tensor:
    """The label part of the generator input: ``[one-hot, edge]`` channels.

    Args:
        batch: ``label`` (B, 1, H, W) raw ids (or an RGB image when ``label_nc`` is 0),
            ``inst`` (B, 1, H, W) instance ids unless ``no_instance``, optional ``label_path``.
        label_nc: classes; 0 means the label is an image used as it is.
        no_instance: leave out the instance edge map.

    Returns:
        (B, label_nc + (not no_instance), H, W) float tensor (``input_nc`` channels
        instead of ``label_nc`` when ``label_nc`` is 0).

    Raises:
        DataError: bad label ids, or no ``inst`` in the batch while instances are on.
    """
    label = batch["label"]
    if label_nc == 0:
        input_label = label.float()
    else:
        input_label = one_hot(label, label_nc, batch.get("label_path"))
    if not no_instance:
        inst = batch.get("inst")
        if not isinstance(inst, torch.Tensor):
            where = _path_of(batch.get("label_path"), 0)
            raise DataError(f"{where}: the batch has no instance map 'inst'; "
                            "provide instance maps or set model.no_instance=true")
        input_label = torch.cat([input_label, instance_edges(inst).to(input_label.dtype)], dim=1)
    return input_label


def label_colormap(n: int) -> torch.Tensor:
    """``n`` distinct RGB colours (uint8, (n, 3)) by the PASCAL VOC bit-spreading rule."""
    colours = torch.zeros(n, 3, dtype=torch.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colours[i] = torch.tensor([r, g, b], dtype=torch.uint8)
    return colours


def colorize_labels(label: torch.Tensor, label_nc: int) -> torch.Tensor:
    """(B, 1, H, W) raw ids -> (B, 3, H, W) colours in [-1, 1] for sample grids."""
    if label_nc == 0:
        return label
    colours = label_colormap(max(label_nc, 1)).to(label.device).float() / 127.5 - 1.0
    ids = label.long().clamp(0, max(label_nc - 1, 0))[:, 0]
    return colours[ids].permute(0, 3, 1, 2).contiguous()
