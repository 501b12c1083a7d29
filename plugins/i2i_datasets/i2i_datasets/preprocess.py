"""Load-time resizing, cropping and flipping with the reference's semantics.

The modes follow junyanz ``data/base_dataset.py`` (``get_params`` / ``get_transform``):

* ``resize_and_crop``: resize to ``load_size`` x ``load_size``, then crop ``crop_size``.
* ``crop``: crop ``crop_size`` from the original image.
* ``scale_width``: width to ``load_size``, height keeps the aspect ratio but is at
  least ``crop_size``.
* ``scale_width_and_crop``: ``scale_width`` then crop ``crop_size``.
* ``none``: only round both sides to the nearest multiple of ``size_multiple``
  (the reference's ``__make_power_2`` with base 4; pix2pixHD uses a larger base).

A crop happens only when the image is larger than ``crop_size`` on some side, as in
the reference (a smaller image passes through unchanged). Training items get a
random crop position and a random horizontal flip (unless ``no_flip``); any other
split gets a centred crop and no flip. One :class:`Plan` is drawn per item from the
size of its first image and applied to every image of the item, so the two halves
of an aligned pair, or a label map and its photo, stay registered.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")


@dataclass(frozen=True)
class Plan:
    """The geometric operations for one item, in order.

    Attributes:
        resize: ``(width, height)`` to resize to first, or None.
        crop: ``(left, top, right, bottom)`` box to cut next, or None.
        fit: ``(width, height)`` to resize to last (mode ``none``), or None.
        flip: mirror left-right at the end.
    """

    resize: tuple[int, int] | None
    crop: tuple[int, int, int, int] | None
    fit: tuple[int, int] | None
    flip: bool


def _randint(high: int, rng: torch.Generator | None) -> int:
    """Uniform integer in [0, high] (inclusive, like ``random.randint(0, high)``)."""
    return int(torch.randint(0, high + 1, (1,), generator=rng).item())


class Preprocess:
    """Draws and applies :class:`Plan` s for one data configuration.

    Args:
        mode: one of :data:`MODES`.
        load_size: resize target (``data.load_size``).
        crop_size: crop size (``data.crop_size``).
        train: random crop and flip when True; centred crop, no flip otherwise.
        no_flip: never flip (``data.no_flip``).
    """

    def __init__(self, mode: str, load_size: int, crop_size: int, *, train: bool, no_flip: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"preprocess mode {mode!r}: expected one of {', '.join(MODES)}")
        self.mode, self.load_size, self.crop_size = mode, load_size, crop_size
        self.train, self.no_flip = train, no_flip

    @classmethod
    def from_config(cls, cfg, split: str) -> Preprocess:
        """Build from a :class:`i2i_core.DataConfig` for ``split`` (only ``"train"`` augments)."""
        return cls(cfg.preprocess, cfg.load_size, cfg.crop_size, train=split == "train", no_flip=cfg.no_flip)

    def resized_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size after the first (resize / scale-width) step."""
        w, h = size
        if "resize" in self.mode:
            return self.load_size, self.load_size
        if "scale_width" in self.mode:
            if w == self.load_size and h >= self.crop_size:
                return w, h
            return self.load_size, int(max(self.load_size * h / w, self.crop_size))
        return w, h

    def plan(self, size: tuple[int, int], rng: torch.Generator | None = None, size_multiple: int = 4) -> Plan:
        """Draw the operations for an image of ``size`` = ``(width, height)``.

        Args:
            size: the (first) image's size before preprocessing.
            rng: generator for the crop position and flip; None uses torch's global RNG.
                The draws are always x, y, flip in that order (training only).
            size_multiple: base of the rounding in mode ``none``.

        Returns:
            The plan; :meth:`apply` it to every image of the item.
        """
        rw, rh = self.resized_size(size)
        resize = (rw, rh) if (rw, rh) != tuple(size) else None
        crop = None
        flip = False
        c = self.crop_size
        if self.train:
            x = _randint(max(0, rw - c), rng)
            y = _randint(max(0, rh - c), rng)
            flip = bool(torch.rand(1, generator=rng).item() > 0.5) and not self.no_flip
        else:
            x = max(0, int(round((rw - c) / 2.0)))
            y = max(0, int(round((rh - c) / 2.0)))
        if "crop" in self.mode and (rw > c or rh > c):
            crop = (x, y, x + c, y + c)
        fit = None
        if self.mode == "none":
            base = max(1, int(size_multiple))
            # round half to even, as the reference's round(); never below one base
            fw = max(base, int(round(rw / base) * base))
            fh = max(base, int(round(rh / base) * base))
            fit = (fw, fh) if (fw, fh) != (rw, rh) else None
        return Plan(resize=resize, crop=crop, fit=fit, flip=flip)

    def output_size(self, size: tuple[int, int], size_multiple: int = 4) -> tuple[int, int]:
        """The ``(width, height)`` an image of ``size`` comes out with (independent of the draws)."""
        p = self.plan(size, torch.Generator().manual_seed(0), size_multiple)
        if p.fit is not None:
            return p.fit
        if p.crop is not None:
            return p.crop[2] - p.crop[0], p.crop[3] - p.crop[1]
        return p.resize or (size[0], size[1])

    @staticmethod
    def apply(img: Image.Image, plan: Plan, resample: int = Image.Resampling.BICUBIC) -> Image.Image:
        """Apply ``plan`` to ``img``; ``resample`` is BICUBIC for photos, NEAREST for id maps."""
        if plan.resize is not None and img.size != plan.resize:
            img = img.resize(plan.resize, resample)
        if plan.crop is not None:
            img = img.crop(plan.crop)
        if plan.fit is not None and img.size != plan.fit:
            img = img.resize(plan.fit, resample)
        if plan.flip:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return img
