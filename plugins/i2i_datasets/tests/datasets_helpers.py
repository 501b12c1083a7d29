"""Helpers writing tiny image folders for the i2i-datasets tests (16-32 px, PIL + torch only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from i2i_core import DataConfig
from i2i_datasets._io import tensor_bytes


def rand_rgb(w: int, h: int, seed: int) -> Image.Image:
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(0, 256, (h, w, 3), generator=g, dtype=torch.uint8)
    return Image.frombytes("RGB", (w, h), tensor_bytes(t))


def write_rgb(path: Path, w: int, h: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rand_rgb(w, h, seed).save(path)
    return path


def write_pair(path: Path, size: int, seed: int, same: bool = False) -> Path:
    """An A|B file; ``same`` makes B an exact copy of A (to test shared crops/flips)."""
    a = rand_rgb(size, size, seed)
    b = a if same else rand_rgb(size, size, seed + 1000)
    ab = Image.new("RGB", (2 * size, size))
    ab.paste(a, (0, 0))
    ab.paste(b, (size, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    ab.save(path)
    return path


def write_ids(path: Path, ids: torch.Tensor, mode: str = "L") -> Path:
    """Write an (H, W) id map as a PNG of ``mode`` (L, P or I;16)."""
    h, w = ids.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        img = Image.frombytes("I;16", (w, h), tensor_bytes(ids.to(torch.int32).to(torch.int16)))
    else:  # L or P: one byte per pixel
        img = Image.frombytes(mode, (w, h), tensor_bytes(ids.to(torch.uint8)))
        if mode == "P":  # a full palette, or PIL writes a short one and remaps the indices
            img.putpalette([(37 * i + k * 91) % 256 for i in range(256) for k in range(3)])
    img.save(path)
    return path


def cfg(**kw: Any) -> DataConfig:
    base = {"preprocess": "resize_and_crop", "load_size": 20, "crop_size": 16}
    base.update(kw)
    return DataConfig(**base)
