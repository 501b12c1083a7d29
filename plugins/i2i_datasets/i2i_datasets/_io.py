"""Listing, decoding and converting images with PIL and torch only (no numpy needed)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from PIL import Image

from i2i_core.errors import DataError

#: file suffixes the readers pick up (compared lower-case, like the reference's IMG_EXTENSIONS)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")

#: PIL modes holding one integer id per pixel (label and instance maps)
ID_MODES = ("L", "P", "I", "I;16", "I;16L", "I;16B", "1")

#: PIL modes that are colour pictures (an RGB label map is one: the reference's label_nc 0 case)
COLOUR_MODES = ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")


def list_images(folder: Path, expected: str, max_size: int | None = None) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted by path as the reference does.

    Args:
        folder: the folder to walk.
        expected: what the reader expects there, for the error message.
        max_size: keep only the first ``max_size`` files (``data.max_dataset_size``).

    Returns:
        The sorted list of image paths, never empty.

    Raises:
        DataError: the folder is missing, not a folder, or holds no image.
    """
    if not folder.exists():
        raise DataError(f"data folder {folder} not found; expected {expected}")
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; expected {expected}")
    # is_file() follows symlinks: the inference command links the user's files into a scratch folder
    files = sorted((p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()), key=str)
    if not files:
        raise DataError(f"data folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); expected {expected}")
    if max_size is not None:
        files = files[:max_size]
    return files


def open_image(path: Path) -> Image.Image:
    """Decode ``path`` fully (a truncated file fails here, not later in a worker).

    Raises:
        DataError: the file cannot be read or decoded.
    """
    try:
        with Image.open(path) as img:
            img.load()
            return img
    except FileNotFoundError:
        raise DataError(f"image {path} not found (was it deleted after the folder was listed?)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {path}: {exc}; expected a readable, complete image file") from None


def open_rgb(path: Path) -> Image.Image:
    """Decode ``path`` and convert it to 8-bit RGB (as the reference's ``convert('RGB')``)."""
    img = open_image(path)
    if img.mode == "RGB":
        return img
    try:
        if img.mode.startswith("I;16"):
            # 16-bit grey photo: PIL cannot go to RGB directly; map the full 16-bit range to 8 bits
            img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
        return img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot convert image {path} (mode {img.mode}) to RGB: {exc}") from None


def pil_to_uint8(img: Image.Image) -> torch.Tensor:
    """An ``L`` or ``RGB`` PIL image as a (C, H, W) uint8 tensor."""
    w, h = img.size
    c = len(img.getbands())
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return t.view(h, w, c).permute(2, 0, 1).contiguous()


def to_normalized(img: Image.Image) -> torch.Tensor:
    """An ``L``/``RGB`` image as float (C, H, W) in [-1, 1].

    Same arithmetic as the reference's ``ToTensor()`` then ``Normalize(0.5, 0.5)``
    (divide by 255, subtract 0.5, divide by 0.5), so values match it bit for bit.
    """
    return pil_to_uint8(img).to(torch.float32).div(255).sub(0.5).div(0.5)


def ids_image(img: Image.Image, path: Path, what: str) -> Image.Image:
    """Bring a single-channel id map to a mode PIL resizes with NEAREST without touching ids (L, P or I)."""
    if img.mode in ("L", "P", "I"):
        return img
    if img.mode.startswith("I;16"):
        return img.convert("I")
    if img.mode == "1":
        return img.convert("L").point(lambda v: 1 if v else 0)
    raise DataError(f"{what} {path} has mode {img.mode}; expected a single-channel image of integer ids "
                    f"(PNG mode L, P, I or I;16)")


def ids_to_tensor(img: Image.Image) -> torch.Tensor:
    """A mode ``L``/``P``/``I`` id map as float (1, H, W) holding the raw integer ids."""
    w, h = img.size
    raw = bytearray(img.tobytes())
    # mode I is 32-bit signed in machine order; L and P are one byte per pixel
    t = torch.frombuffer(raw, dtype=torch.int32 if img.mode == "I" else torch.uint8)
    return t.view(1, h, w).to(torch.float32)


def tensor_bytes(t: torch.Tensor) -> bytes:
    """The raw bytes of a tensor (made contiguous), without going through numpy."""
    t = t.contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())


def save_rgb(t: torch.Tensor, path: Path, compress_level: int = 1) -> None:
    """Write a (3, H, W) uint8 tensor as an RGB PNG."""
    _, h, w = t.shape
    Image.frombytes("RGB", (w, h), tensor_bytes(t.permute(1, 2, 0))).save(path, compress_level=compress_level)


def save_ids(t: torch.Tensor, path: Path, sixteen_bit: bool = False) -> None:
    """Write a (H, W) integer tensor as a single-channel PNG: mode ``L`` (uint8) or 16-bit ``I;16``."""
    h, w = t.shape
    if sixteen_bit:
        img = Image.frombytes("I;16", (w, h), tensor_bytes(t.to(torch.int32).to(torch.int16)))
    else:
        img = Image.frombytes("L", (w, h), tensor_bytes(t.to(torch.uint8)))
    img.save(path, compress_level=1)
