"""Listing, decoding and converting images.

8-bit greyscale and colour photos stay on PIL's path (the reference's, needed for golden
parity); 16-bit, float, alpha and N-channel images become a :class:`Photo` of float planes
decoded by :mod:`i2i_core.io.images`, so no level, value or channel is lost.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from PIL import Image

from i2i_core import IMAGE_SUFFIXES, DataError, fit_channels, normalize, png_bit_depth, read_image, to_unit

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


#: PIL modes of 8-bit photos that keep the reference's path (converted to RGB/L like ``convert('RGB')``)
_PIL_PHOTO_MODES = ("1", "L", "RGB", "CMYK", "YCbCr", "LAB", "HSV")


class Photo:
    """A photo at its own depth and channel count, preprocessed plane by plane.

    8-bit grey/colour files keep a PIL ``RGB`` image (``pil``), exactly the reference's
    path. Anything else (16-bit, float, grey+alpha, RGBA, N channels) is held as a list of
    PIL mode ``F`` planes with values in [0, 1] (``planes``): PIL resizes those with the same
    filters, in float32, so 16-bit levels and float values survive preprocessing.

    Args:
        path: the file (for messages).
        pil: an 8-bit PIL image, or None.
        planes: float planes in [0, 1], or None.
        mode: what the file holds (for messages).
    """

    def __init__(self, path: Path, pil: Image.Image | None = None, planes: list[Image.Image] | None = None,
                 mode: str = "") -> None:
        self.path, self.pil, self.planes, self.mode = path, pil, planes, mode

    @property
    def _float_planes(self) -> list[Image.Image]:
        """``planes`` of a photo without an 8-bit image (one of the two is always set)."""
        if self.planes is None:
            raise ValueError(f"{self.path}: a Photo holds an 8-bit image or float planes, here neither")
        return self.planes

    @property
    def size(self) -> tuple[int, int]:
        return self.pil.size if self.pil is not None else self._float_planes[0].size

    @property
    def channels(self) -> int:
        return len(self.pil.getbands()) if self.pil is not None else len(self._float_planes)

    def map(self, fn) -> Photo:  # noqa: ANN001 - fn: PIL image -> PIL image
        """Apply a PIL operation (crop, resize, flip) to every plane."""
        if self.pil is not None:
            return Photo(self.path, pil=fn(self.pil), mode=self.mode)
        return Photo(self.path, planes=[fn(p) for p in self._float_planes], mode=self.mode)

    def to_gray(self) -> Photo:
        """One channel: PIL's ITU-R 601 luma for 8-bit RGB (the reference's ``Grayscale(1)``),
        the same weights in float for deeper RGB; refuses alpha or extra bands."""
        if self.pil is not None:
            return Photo(self.path, pil=self.pil.convert("L"), mode=self.mode)
        planes = self._float_planes
        if len(planes) == 1:
            return self
        if len(planes) != 3:
            fit_channels(torch.zeros(len(planes), 1, 1), 1, str(self.path), self.mode)
        import numpy as np

        r, g, b = (np.asarray(p, dtype=np.float32) for p in planes)
        luma = (r * 0.299 + g * 0.587 + b * 0.114).astype(np.float32)
        return Photo(self.path, planes=[Image.fromarray(luma)], mode=self.mode)

    def to_normalized(self, want: int | None = None, field: str = "model.input_nc") -> torch.Tensor:
        """(C, H, W) float in [-1, 1]; ``want`` channels or a :class:`DataError` naming the fix."""
        if self.pil is not None:
            x = to_normalized(self.pil)
        else:
            import numpy as np

            x = normalize(torch.from_numpy(np.stack([np.asarray(p, dtype=np.float32) for p in self._float_planes])))
        return fit_channels(x, want, str(self.path), self.mode, field)


def open_photo(path: Path, value_range: tuple[float, float] | None = None) -> Photo:
    """Decode a photo at its own depth: 8-bit grey/colour through PIL, the rest as float planes.

    TIFFs and 16-bit PNGs always go through :func:`i2i_core.io.images.read_image` (PIL would
    truncate 16-bit colour PNGs to 8 bits and cannot read float or N-channel TIFFs).

    Raises:
        DataError: unreadable file, float image without (or outside) ``value_range``.
    """
    import numpy as np

    lossless = path.suffix.lower() in (".tif", ".tiff") or (
        path.suffix.lower() == ".png" and png_bit_depth(path) == 16)
    if not lossless:
        img = open_image(path)
        if img.mode in _PIL_PHOTO_MODES or (img.mode == "P" and "transparency" not in img.info):
            # grey and palette photos become RGB, as the reference's convert('RGB')
            return Photo(path, pil=img if img.mode == "RGB" else img.convert("RGB"), mode=f"PIL {img.mode}")
    decoded = read_image(path)
    if decoded.depth == "uint8" and decoded.channels in (1, 3):  # an 8-bit TIFF: the reference's path
        arr = decoded.data.permute(1, 2, 0).numpy()
        return Photo(path, pil=Image.fromarray(arr[..., 0] if decoded.channels == 1 else arr).convert("RGB"),
                     mode=decoded.mode)
    unit = to_unit(decoded, value_range).numpy().astype(np.float32)
    return Photo(path, planes=[Image.fromarray(plane) for plane in unit], mode=decoded.mode)
