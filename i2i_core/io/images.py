"""Reading and writing images of every depth and channel count, losslessly.

PIL decodes 8-bit images (the reference's path, kept for golden parity) and 16-bit
greyscale; PIL cannot read 16-bit colour PNGs (it truncates them to 8 bits) nor
float or N-channel TIFFs, so those go through ``torchvision.io.decode_png`` and
``tifffile``. Every image comes back as a :class:`Decoded`: the samples in their
native dtype (``uint8``, ``uint16`` or ``float32``), channel-first, with a mode
string for messages. Nothing is converted silently: what cannot be represented is
an :class:`~i2i_core.base.errors.DataError` naming the file, its mode and the fix.

Value mapping to the networks' [-1, 1]:

* ``uint8``: ``x / 255``, then ``(v - 0.5) / 0.5`` (the reference's ToTensor + Normalize);
* ``uint16``: ``x / 65535``, then the same;
* ``float32``: ``(x - lo) / (hi - lo)`` with ``(lo, hi)`` = ``data.value_range``, then
  the same; a float image without a stated range, or with samples outside it, is an error.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from PIL import Image

from i2i_core.base.errors import DataError

Depth = Literal["uint8", "uint16", "float32"]
DEPTHS: tuple[str, ...] = ("uint8", "uint16", "float32")
_MAX = {"uint8": 255.0, "uint16": 65535.0}
_TIFF = (".tif", ".tiff")
#: file suffixes read as images when listing a folder or a glob (compared lower-case, like the reference's
#: IMG_EXTENSIONS); the readers and ``i2i translate`` share this one list
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
#: the most channels i2i reads or writes (``input_nc``/``output_nc`` up to 16)
MAX_CHANNELS = 16


@dataclass
class Decoded:
    """One decoded image.

    Attributes:
        data: (C, H, W) samples in their native dtype (uint8, uint16 or float32).
        mode: what the file holds, for messages (e.g. ``"16-bit RGB PNG"``, ``"PIL RGBA"``).
        path: the file it came from (``"<memory>"`` for in-memory images).
    """

    data: torch.Tensor
    mode: str
    path: str

    @property
    def depth(self) -> Depth:
        return {torch.uint8: "uint8", torch.uint16: "uint16", torch.float32: "float32"}[self.data.dtype]  # type: ignore[return-value]

    @property
    def channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``, PIL's order."""
        return int(self.data.shape[2]), int(self.data.shape[1])


# --- decoding -------------------------------------------------------------------------


def png_bit_depth(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return 0
    return head[24]


def _from_pil(img: Image.Image, path: str) -> Decoded:
    """A PIL image as native-dtype samples; colour modes PIL cannot hand over losslessly raise."""
    import numpy as np

    mode = img.mode
    desc = f"PIL {mode}"
    arr: np.ndarray
    if mode.startswith("I;16"):
        arr = np.asarray(img).astype(np.uint16)[None]
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float32)[None]
    elif mode == "I":
        arr = np.asarray(img)
        if arr.min() < 0 or arr.max() > 65535:
            raise DataError(f"image {path} is 32-bit integer ({desc}) with values {arr.min()}..{arr.max()}; "
                            "expected 8- or 16-bit samples (save it as a 16-bit PNG/TIFF or a float32 TIFF)")
        arr = arr.astype(np.uint16)[None]
    else:
        if mode == "1":
            img = img.convert("L")
        elif mode == "P":  # a palette is a colour image; keep its transparency when it has one
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif mode not in ("L", "LA", "RGB", "RGBA"):
            img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV: colour pictures, as the reference's convert('RGB')
        arr = np.asarray(img, dtype=np.uint8)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return Decoded(torch.from_numpy(np.ascontiguousarray(arr)), desc, path)


def _from_tiff(path: Path) -> Decoded:
    import numpy as np

    tifffile = require("tifffile", "read TIFF images", "pip install tifffile")
    try:
        with tifffile.TiffFile(path) as tf:
            series = tf.series[0]
            arr, axes = series.asarray(), series.axes
    except Exception as exc:
        raise DataError(f"cannot read TIFF {path}: {exc}; expected a readable, complete TIFF file") from None
    # one image: drop length-1 axes other than Y/X; the remaining non-spatial axis is the channels
    keep = [i for i, a in enumerate(axes) if a in "YX" or arr.shape[i] > 1]
    arr = arr.reshape([arr.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 3 and set(axes) >= {"Y", "X"}:
        c = next(i for i, a in enumerate(axes) if a not in "YX")
        arr = np.moveaxis(arr, c, 0)
    else:
        raise DataError(f"TIFF {path} holds axes {axes!r} with shape {tuple(arr.shape)}; expected one image "
                        f"(height x width, optionally with channels)")
    kind = arr.dtype
    if kind == np.uint8 or kind == np.uint16:
        pass
    elif kind.kind == "f":
        arr = arr.astype(np.float32)
    elif kind.kind in "iu" and arr.min() >= 0 and arr.max() <= 65535:
        arr = arr.astype(np.uint16)
    else:
        raise DataError(f"TIFF {path} has {kind} samples ({arr.min()}..{arr.max()}); expected uint8, uint16 or "
                        "float (convert it, e.g. with tifffile, to one of those)")
    bits = {"uint8": "8-bit", "uint16": "16-bit", "float32": "float32"}[str(arr.dtype)]
    return Decoded(torch.from_numpy(np.ascontiguousarray(arr)), f"{bits} {arr.shape[0]}-channel TIFF", str(path))


def read_image(path: str | Path) -> Decoded:
    """Decode ``path`` completely, at its own depth and channel count.

    Raises:
        DataError: the file is missing, unreadable, or holds samples i2i cannot represent.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} not found")
    if path.suffix.lower() in _TIFF:
        decoded = _from_tiff(path)
    elif path.suffix.lower() == ".png" and png_bit_depth(path) == 16:
        from torchvision.io import ImageReadMode, decode_png, read_file

        try:
            data = decode_png(read_file(str(path)), mode=ImageReadMode.UNCHANGED)
        except RuntimeError as exc:
            raise DataError(f"cannot read 16-bit PNG {path}: {exc}") from None
        names = {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "RGBA"}
        decoded = Decoded(data.contiguous(), f"16-bit {names.get(data.shape[0], '')} PNG", str(path))
    else:
        try:
            with Image.open(path) as img:
                img.load()
                decoded = _from_pil(img, str(path))
        except DataError:
            raise
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(f"cannot read image {path}: {exc}; expected a readable, complete image file") from None
    if decoded.channels > MAX_CHANNELS:
        raise DataError(f"image {path} ({decoded.mode}) has {decoded.channels} channels; i2i reads at most "
                        f"{MAX_CHANNELS}")
    return decoded


def probe_depth(path: str | Path) -> Depth:
    """The sample depth of ``path`` without decoding the pixels (used to write outputs at it)."""
    path = Path(path)
    if path.suffix.lower() in _TIFF:
        tifffile = require("tifffile", "read TIFF images", "pip install tifffile")
        with tifffile.TiffFile(path) as tf:
            dtype = tf.series[0].dtype
        return "uint8" if dtype.itemsize == 1 and dtype.kind == "u" else "float32" if dtype.kind == "f" else "uint16"
    if path.suffix.lower() == ".png" and png_bit_depth(path) == 16:
        return "uint16"
    with Image.open(path) as img:
        mode = img.mode
    return "uint16" if mode.startswith("I;16") or mode == "I" else "float32" if mode == "F" else "uint8"


# --- values and channels ---------------------------------------------------------------


def to_unit(decoded: Decoded, value_range: tuple[float, float] | None = None) -> torch.Tensor:
    """Samples as float32 in [0, 1] (the reference's ToTensor step), checking float ranges.

    Raises:
        DataError: a float image without ``value_range`` or with samples outside it.
    """
    x = decoded.data
    if decoded.depth in _MAX:
        return x.to(torch.float32).div(_MAX[decoded.depth])
    if value_range is None:
        raise DataError(f"image {decoded.path} is {decoded.mode} (values {float(x.min()):g}..{float(x.max()):g}); "
                        "float images need their value range stated: set data.value_range=[LO,HI] "
                        "(e.g. [0,1]), or pass value_range to the Translator")
    lo, hi = float(value_range[0]), float(value_range[1])
    if not torch.isfinite(x).all():
        raise DataError(f"image {decoded.path} ({decoded.mode}) holds NaN or infinite samples; expected finite values")
    mn, mx = float(x.min()), float(x.max())
    tol = 1e-6 * max(1.0, abs(hi - lo))
    if mn < lo - tol or mx > hi + tol:
        raise DataError(f"image {decoded.path} ({decoded.mode}) has values {mn:g}..{mx:g}, outside "
                        f"data.value_range [{lo:g}, {hi:g}]; set data.value_range to the range the data uses")
    return (x - lo) / (hi - lo)


def normalize(unit: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1] with the reference's arithmetic (``(v - 0.5) / 0.5``), bit for bit."""
    return unit.sub(0.5).div(0.5)


def fit_channels(x: torch.Tensor, want: int | None, path: str, mode: str, field: str = "model.input_nc") -> torch.Tensor:
    """Bring (C, H, W) samples to ``want`` channels where that loses nothing, else raise.

    Grey -> RGB repeats the channel (the reference's ``convert('RGB')``). RGB -> grey is
    done by the readers with PIL (the reference's ``Grayscale(1)``) before this point.
    Anything else (an alpha channel, 5 bands into 3 ...) is refused.

    Raises:
        DataError: naming the file, its mode and the setting that would fit it.
    """
    got = x.shape[0]
    if want is None or got == want:
        return x
    if got == 1 and want == 3:
        return x.expand(3, *x.shape[1:]).contiguous()
    hint = f"set {field}={got} (and train a model for it)"
    if got in (2, 4) and want in (1, 3):
        hint += f" or remove the alpha channel from the file (e.g. PIL .convert('{'L' if want == 1 else 'RGB'}'))"
    raise DataError(f"image {path} is {mode} with {got} channels but {field} is {want}; {hint}")


# --- encoding -------------------------------------------------------------------------


def from_normalized(x: torch.Tensor, depth: Depth, value_range: tuple[float, float] | None = None) -> torch.Tensor:
    """(C, H, W) in [-1, 1] -> samples of ``depth`` (rounded, clamped; float mapped to ``value_range``)."""
    unit = (x.detach().float().cpu().clamp(-1, 1) + 1) / 2
    if depth == "float32":
        lo, hi = value_range if value_range is not None else (0.0, 1.0)
        return unit * (float(hi) - float(lo)) + float(lo)
    return (unit * _MAX[depth]).round().to(torch.uint8 if depth == "uint8" else torch.int32)


def write_png16(arr: Any, path: Path) -> None:
    """Write (H, W, C) uint16 samples as a 16-bit PNG; PIL writes only greyscale at 16 bits."""
    import numpy as np

    h, w, c = arr.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = arr.astype(">u2").reshape(h, w * c).view(np.uint8)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter byte 0 per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    path.write_bytes(png)


def default_suffix(depth: Depth, channels: int) -> str:
    """``.png`` where PNG holds the samples (8/16-bit, 1-4 channels), else ``.tif``."""
    return ".png" if depth != "float32" and channels <= 4 else ".tif"


def write_image(path: str | Path, x: torch.Tensor, depth: Depth = "uint8",
                value_range: tuple[float, float] | None = None) -> Path:
    """Write one (C, H, W) image in [-1, 1] at ``depth``; the format follows the suffix.

    ``.png``: 8- or 16-bit, 1-4 channels. ``.jpg``: 8-bit grey or RGB. ``.tif``/``.tiff``:
    any depth and channel count (needs ``tifffile``).

    Raises:
        DataError: the suffix cannot hold this depth or channel count.
    """
    import numpy as np

    path = Path(path)
    suffix = path.suffix.lower()
    samples = from_normalized(x, depth, value_range)
    c = samples.shape[0]
    arr = samples.permute(1, 2, 0).numpy()
    arr = arr.astype({"uint8": np.uint8, "uint16": np.uint16, "float32": np.float32}[depth])
    if suffix in _TIFF:
        tifffile = require("tifffile", "write TIFF images", "pip install tifffile")
        tifffile.imwrite(path, arr if c > 1 else arr[..., 0], photometric="rgb" if c in (3, 4) and depth != "float32"
                         else "minisblack", planarconfig="contig", extrasamples=["unassalpha"] if c == 4 else None)
        return path
    fits = {".png": depth in ("uint8", "uint16") and c <= 4, ".jpg": depth == "uint8" and c in (1, 3),
            ".jpeg": depth == "uint8" and c in (1, 3)}
    if not fits.get(suffix, False):
        raise DataError(f"cannot write a {depth} {c}-channel image as {suffix or 'a file without suffix'} ({path}); "
                        f"use --output-format tif (any depth and channel count)"
                        + (" or png" if depth != "float32" and c <= 4 else ""))
    if depth == "uint16" and c > 1:
        write_png16(arr, path)
    elif depth == "uint16":
        Image.fromarray(arr[..., 0]).save(path)  # uint16 -> PIL mode I;16
    else:
        Image.fromarray(arr if c > 1 else arr[..., 0]).save(path)
    return path


def require(module: str, purpose: str, install: str):  # noqa: ANN201 - returns a module
    """Import an optional dependency or raise one line naming how to install it."""
    import importlib

    from i2i_core.base.errors import I2IError

    try:
        return importlib.import_module(module)
    except ImportError:
        raise I2IError(f"{module} is needed to {purpose} but is not installed; run `{install}`") from None
