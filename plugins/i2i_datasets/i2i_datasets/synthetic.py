"""Procedural image-to-image data sets: shapes of K classes over a background class.

A *scene* is a list of objects (class, shape, position, size, rotation) drawn from
one seed; it is resolution independent, so the same scene renders at any size.
Class ``c`` (1..K) always has the same shape kind (rectangle, ellipse or triangle,
in turn) and, within one *style*, its own colour and texture (stripes, checker,
smooth noise or dots, each with its own frequency, angle and contrast). Objects
are lit from a per-scene direction (a smooth gradient across each object plus a
global gradient and vignette). There is no per-pixel sensor noise: it would make
the PNGs three times slower to write and larger for no benefit to the task.

Layouts written by :func:`generate` (file names ``00000.png``, ...):

* ``aligned``: ``train/`` and ``test/`` hold A|B pairs side by side; A is the flat
  class-colour rendering of the label map (facades-like), B the textured photo.
* ``unaligned``: ``trainA``/``trainB`` are photos of *different* scenes in style 0
  and style 1; ``testA``/``testB`` show the *same* scenes in both styles under the
  same file names, so the true B of every held-out A is known.
* ``labels``: ``<split>_label`` (uint8 class ids, mode L, background 0),
  ``<split>_inst`` (16-bit instance ids: ``class * 1000 + k`` for the k-th object
  of a class, the background keeps its class id 0) and ``<split>_img`` (photos),
  for ``train`` and ``test``.

Everything depends on the spec only (torch generators seeded from it), and all
rendering is vectorised torch (no per-pixel Python). ``synthetic.json`` records
the spec, the generator version and the label colours.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from i2i_core import ConfigError, DataError, format_validation_error

from ._io import save_ids, save_rgb
from .layouts import LAYOUTS as _LAYOUTS

#: bump when the images change for the same spec (it is part of the cache key)
SYNTHETIC_VERSION = 1
MANIFEST = "synthetic.json"
LAYOUTS = _LAYOUTS

# stream identifiers mixed into the seeds, one per kind of scene sequence
_STREAM = {"aligned/train": 1, "aligned/test": 2, "unaligned/trainA": 11, "unaligned/trainB": 12,
           "unaligned/test": 13, "labels/train": 21, "labels/test": 22}
_APPEARANCE_STREAM = 101


class SyntheticSpec(BaseModel):
    """What to generate (``data.synthetic`` in a run config, options of ``i2i data synth``)."""

    model_config = ConfigDict(extra="forbid")

    layout: Literal["aligned", "unaligned", "labels"] = Field("aligned", description="folder layout (reader)")
    n: int = Field(100, gt=0, le=1_000_000, description="training images (per domain for unaligned)")
    n_test: int | None = Field(None, ge=0, le=1_000_000, description="held-out images; default max(1, n // 5)")
    size: int = Field(128, ge=8, le=4096, description="image side in pixels (square images)")
    seed: int = Field(0, ge=0, description="everything generated depends on it only")
    classes: int = Field(4, ge=1, le=64, description="foreground classes (label ids 1..classes; 0 = background)")

    @model_validator(mode="after")
    def _default_n_test(self) -> SyntheticSpec:
        if self.n_test is None:
            self.n_test = self.test_count
        return self

    @property
    def test_count(self) -> int:
        """``n_test`` as an int: the validator fills the default, which this repeats for the type checker."""
        return self.n_test if self.n_test is not None else max(1, self.n // 5)


def validate_spec(spec: Any, where: str = "data.synthetic") -> SyntheticSpec:
    """Validate a synthetic spec dict.

    Args:
        spec: a dict (or a :class:`SyntheticSpec`).
        where: dotted prefix for error messages.

    Raises:
        ConfigError: one line per problem, e.g. ``data.synthetic.size: ...``.
    """
    if isinstance(spec, SyntheticSpec):
        return spec
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a table of generator options (layout, n, n_test, size, seed, "
                          f"classes), got {type(spec).__name__}")
    try:
        return SyntheticSpec(**spec)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, prefix=where)) from None


def _mix(*values: int) -> int:
    """A 63-bit seed from integers (splitmix-style), so nearby inputs give unrelated streams."""
    h = 0x243F6A8885A308D3
    for v in values:
        h = (h ^ (int(v) & 0xFFFFFFFFFFFFFFFF)) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 29
        h = h * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 32
    return h & 0x7FFFFFFFFFFFFFFF


# --- colours ------------------------------------------------------------------------


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vectorised HSV -> RGB, all in [0, 1]; returns (..., 3)."""
    k = torch.tensor([5.0, 3.0, 1.0])
    p = (k + h[..., None] * 6) % 6
    return v[..., None] - v[..., None] * s[..., None] * (torch.minimum(p, 4 - p).clamp(0, 1))


@functools.lru_cache(maxsize=16)
def label_colors(classes: int) -> torch.Tensor:
    """The flat colours of the label rendering (aligned layout's A side), (classes + 1, 3) uint8.

    Fixed (independent of the seed) so a label colour always means the same class.
    """
    c = torch.arange(classes, dtype=torch.float32)
    hue = (c * 0.618033988749895) % 1.0
    sat = torch.full_like(hue, 0.85)
    val = 0.95 - 0.3 * ((c // 6) % 2)
    rgb = torch.cat([torch.tensor([[0.12, 0.16, 0.55]]), _hsv_to_rgb(hue, sat, val)])
    return (rgb * 255).round().to(torch.uint8)


@dataclass(frozen=True)
class Appearance:
    """Per-class colour and texture of one style (index 0 = background)."""

    color: torch.Tensor  # (K + 1, 3) in [0, 1]
    kind: tuple[int, ...]  # 0 stripes, 1 checker, 2 smooth noise, 3 dots
    freq: tuple[float, ...]  # cycles per image side
    angle: tuple[float, ...]
    contrast: torch.Tensor  # (K + 1,)


def appearance(seed: int, classes: int, style: int) -> Appearance:
    """The colours and textures of ``style`` (deterministic in ``seed``)."""
    g = torch.Generator().manual_seed(_mix(seed, _APPEARANCE_STREAM, style))
    n = classes + 1
    u = torch.rand(n, 6, generator=g)
    color = _hsv_to_rgb(u[:, 0], 0.3 + 0.55 * u[:, 1], 0.35 + 0.55 * u[:, 2])
    kind = torch.randint(0, 4, (n,), generator=g)
    freq = 3.0 + 13.0 * u[:, 3]
    contrast = 0.25 + 0.45 * u[:, 5]
    # the background is calmer: low-frequency noise, less contrast
    kind[0], freq[0], contrast[0] = 2, 2.0 + 3.0 * float(u[0, 3]), 0.2 + 0.2 * float(u[0, 5])
    return Appearance(color=color, kind=tuple(kind.tolist()), freq=tuple(freq.tolist()),
                      angle=tuple((u[:, 4] * math.pi).tolist()), contrast=contrast)


# --- scenes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One object, in image-relative coordinates ([0, 1] on both axes)."""

    cls: int
    kind: int  # 0 rectangle, 1 ellipse, 2 triangle
    cx: float
    cy: float
    a: float  # half extent along the object's own u axis
    b: float  # half extent along v
    angle: float


@dataclass(frozen=True)
class Scene:
    """A resolution-independent scene: objects in painting order plus lighting."""

    objects: tuple[Shape, ...]
    light: float  # light direction (radians)
    seed: int  # for the per-scene texture phases and noise


def make_scene(seed: int, classes: int) -> Scene:
    """Draw a scene of 2-7 objects from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    m = int(torch.randint(2, 8, (1,), generator=g))
    cls = torch.randint(1, classes + 1, (m,), generator=g).tolist()
    u = torch.rand(m, 5, generator=g).tolist()
    light = float(torch.rand(1, generator=g)) * 2 * math.pi
    objects = []
    for c, (ux, uy, ur, uasp, uang) in zip(cls, u, strict=True):
        r = 0.08 + 0.2 * ur
        aspect = 0.55 + 0.9 * uasp
        objects.append(Shape(cls=c, kind=(c - 1) % 3, cx=0.08 + 0.84 * ux, cy=0.08 + 0.84 * uy,
                             a=r * math.sqrt(aspect), b=r / math.sqrt(aspect), angle=uang * math.pi))
    return Scene(objects=tuple(objects), light=light, seed=_mix(seed, 7))


class _Grid:
    """Pixel-centre coordinates of a square image, cached per size."""

    _cache: dict[int, _Grid] = {}

    def __init__(self, size: int) -> None:
        self.size = size
        self.coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size

    @classmethod
    def of(cls, size: int) -> _Grid:
        if size not in cls._cache:
            cls._cache[size] = cls(size)
        return cls._cache[size]


def render_maps(scene: Scene, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rasterise a scene.

    Returns:
        ``(label, inst, shade)``: class ids (H, W) uint8, instance ids (H, W) int32
        (``class * 1000 + k``, background 0) and the smooth lighting factor (H, W) float.
    """
    s = size
    xs = _Grid.of(s).coords
    lx, ly = math.cos(scene.light), math.sin(scene.light)
    label = torch.zeros(s, s, dtype=torch.uint8)
    inst = torch.zeros(s, s, dtype=torch.int32)
    # global light: a gentle gradient across the image and a vignette
    gx, gy = (xs - 0.5) * lx, (xs - 0.5) * ly
    glob = 0.9 + 0.25 * (gy[:, None] + gx[None, :]) - 0.35 * ((xs[:, None] - 0.5) ** 2 + (xs[None, :] - 0.5) ** 2)
    shade = glob.clone()
    counts: dict[int, int] = {}
    for o in scene.objects:
        # only the object's bounding box is touched: most objects are small
        ext = math.hypot(o.a, o.b) * 1.01
        x0, x1 = max(0, int((o.cx - ext) * s)), min(s, int(math.ceil((o.cx + ext) * s)))
        y0, y1 = max(0, int((o.cy - ext) * s)), min(s, int(math.ceil((o.cy + ext) * s)))
        if x1 <= x0 or y1 <= y0:
            continue
        dx = (xs[x0:x1] - o.cx)[None, :]
        dy = (xs[y0:y1] - o.cy)[:, None]
        ca, sa = math.cos(o.angle), math.sin(o.angle)
        u = dx * ca + dy * sa
        v = dy * ca - dx * sa
        if o.kind == 0:
            mask = (u.abs() <= o.a) & (v.abs() <= o.b)
        elif o.kind == 1:
            mask = (u / o.a) ** 2 + (v / o.b) ** 2 <= 1.0
        else:  # isosceles triangle, apex at v = -b, base at v = +b
            mask = (v <= o.b) & (2 * o.b * u.abs() <= o.a * (v + o.b))
        k = counts.get(o.cls, 0)
        counts[o.cls] = k + 1
        r = max(o.a, o.b)
        lit = 1.0 + 0.3 * (dx * lx + dy * ly) / r
        label[y0:y1, x0:x1].masked_fill_(mask, o.cls)
        inst[y0:y1, x0:x1].masked_fill_(mask, o.cls * 1000 + k)
        box = shade[y0:y1, x0:x1]
        box.copy_(torch.where(mask, lit * glob[y0:y1, x0:x1], box))
    return label, inst, shade


def _texture(kind: int, freq: float, angle: float, phase: tuple[float, float], size: int,
             g: torch.Generator) -> torch.Tensor:
    """One full-frame texture in [0, 1], (H, W)."""
    xs = _Grid.of(size).coords
    ca, sa = math.cos(angle), math.sin(angle)
    w = 2 * math.pi * freq
    if kind == 0:  # stripes
        return 0.5 + 0.5 * torch.sin(w * (xs[None, :] * ca + xs[:, None] * sa) + phase[0])
    if kind == 1:  # soft checker
        a = torch.sin(w * 0.5 * (xs[None, :] * ca + xs[:, None] * sa) + phase[0])
        b = torch.sin(w * 0.5 * (xs[:, None] * ca - xs[None, :] * sa) + phase[1])
        return 0.5 + 0.5 * torch.tanh(6 * a * b)
    if kind == 2:  # smooth value noise: bicubic on a quarter-size grid, then bilinear (cheap, still smooth)
        cells = max(2, int(round(freq)))
        low = torch.rand(1, 1, cells + 1, cells + 1, generator=g)
        mid = F.interpolate(low, size=(max(8, size // 4),) * 2, mode="bicubic", align_corners=True)
        return F.interpolate(mid, size=(size, size), mode="bilinear", align_corners=False)[0, 0].clamp(0, 1)
    # dots
    a = torch.cos(w * (xs[None, :] * ca + xs[:, None] * sa) + phase[0])
    b = torch.cos(w * (xs[:, None] * ca - xs[None, :] * sa) + phase[1])
    return (a + b - 0.6).clamp(0, 1.4) / 1.4


def render_photo(scene: Scene, label: torch.Tensor, shade: torch.Tensor, look: Appearance) -> torch.Tensor:
    """Texture, colour and light a rasterised scene.

    Returns:
        (3, H, W) uint8 (a channels-last view: the PNG writer wants that layout).
    """
    h, w = label.shape
    g = torch.Generator().manual_seed(scene.seed)
    present = sorted({0, *(o.cls for o in scene.objects)})
    phases = (torch.rand(len(look.kind), 2, generator=g) * (2 * math.pi)).tolist()
    # the background (0) is always present: its texture is the base the others are laid over
    first, *rest = present
    tex = _texture(look.kind[first], look.freq[first], look.angle[first], phases[first], w, g)
    for c in rest:
        t = _texture(look.kind[c], look.freq[c], look.angle[c], phases[c], w, g)
        tex = torch.where(label == c, t, tex)
    # one gather for colour and contrast: a (K + 1, 4) table indexed by the label map
    table = torch.cat([look.color, look.contrast[:, None]], dim=1)
    px = table.index_select(0, label.reshape(-1).long()).view(h, w, 4)
    contrast = px[..., 3]
    light = (1.0 - 0.5 * contrast + contrast * tex) * shade
    rgb = px[..., :3] * light[..., None]
    return rgb.mul_(255).round_().clamp_(0, 255).to(torch.uint8).permute(2, 0, 1)


def render_label_colors(label: torch.Tensor, classes: int) -> torch.Tensor:
    """The flat class-colour picture of a label map, (3, H, W) uint8 (a channels-last view)."""
    h, w = label.shape
    return label_colors(classes).index_select(0, label.reshape(-1).long()).view(h, w, 3).permute(2, 0, 1)


# --- writing ------------------------------------------------------------------------


def total_items(spec: SyntheticSpec) -> int:
    """How many progress steps :func:`generate` reports (one per rendered scene and style)."""
    if spec.layout == "unaligned":
        return 2 * spec.n + 2 * spec.test_count
    return spec.n + spec.test_count


def layout_folders(spec: SyntheticSpec) -> list[str]:
    """The sub-folders :func:`generate` writes for ``spec``."""
    splits = ["train"] + (["test"] if spec.n_test else [])
    if spec.layout == "aligned":
        return splits
    if spec.layout == "unaligned":
        return [f"{s}{d}" for s in splits for d in "AB"]
    return [f"{s}_{kind}" for s in splits for kind in ("label", "inst", "img")]


def scene_seed(spec: SyntheticSpec, folder: str, index: int) -> int:
    """The seed of the scene behind image ``index`` of ``folder``.

    Args:
        spec: the data set.
        folder: one of :func:`layout_folders` (``train``, ``testA``, ``train_img`` ...).
        index: the image's position (its file name ``{index:05d}.png``).

    Returns:
        The seed :func:`make_scene` draws the scene from: equal for ``testA``/``testB``
        (one scene, two styles) and for the three ``<split>_*`` folders of ``labels``.
    """
    valid = layout_folders(spec.model_copy(update={"n_test": max(1, spec.test_count)}))
    if folder not in valid:
        raise ValueError(f"{folder!r} is not a folder of the {spec.layout} layout ({', '.join(valid)})")
    split = "train" if folder.startswith("train") else "test"
    if spec.layout == "unaligned" and split == "train":
        stream = f"unaligned/{folder}"
    else:
        stream = f"{spec.layout}/{split}"
    return _mix(spec.seed, _STREAM[stream], index)


def manifest(spec: SyntheticSpec) -> dict[str, Any]:
    """The content of ``synthetic.json``."""
    return {
        "generator": "i2i_datasets.synthetic", "version": SYNTHETIC_VERSION, **spec.model_dump(),
        "label_nc": spec.classes + 1, "background_id": 0,
        "label_colors": label_colors(spec.classes).tolist(),
        "folders": layout_folders(spec),
    }


def generate(spec: SyntheticSpec | dict, out: str | Path, progress: Callable[[int], None] | None = None) -> Path:
    """Render the data set of ``spec`` into ``out`` (created if needed; files are overwritten).

    Args:
        spec: a :class:`SyntheticSpec` or a dict of its fields.
        out: the destination folder.
        progress: called with 1 after each rendered scene/style (see :func:`total_items`).

    Returns:
        ``out`` as a Path; ``synthetic.json`` is written last.
    """
    spec = validate_spec(spec, where="synthetic")
    with torch.inference_mode():  # no autograd bookkeeping: the renders are plain tensor programs
        return _generate(spec, Path(out), progress)


def _generate(spec: SyntheticSpec, out: Path, progress: Callable[[int], None] | None) -> Path:
    for folder in layout_folders(spec):
        (out / folder).mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(max(spec.n, spec.test_count) - 1)))
    k, s, seed = spec.classes, spec.size, spec.seed
    tick = progress or (lambda _n: None)
    looks = [appearance(seed, k, 0), appearance(seed, k, 1)]
    splits = (("train", spec.n), ("test", spec.test_count))

    for split, count in splits:
        for i in range(count):
            name = f"{i:0{width}d}.png"
            if spec.layout == "aligned":
                scene = make_scene(scene_seed(spec, split, i), k)
                label, _, shade = render_maps(scene, s)
                a, b = render_label_colors(label, k), render_photo(scene, label, shade, looks[0])
                # concatenate channels-last (the PNG layout), then view as CHW again
                pair = torch.cat([a.permute(1, 2, 0), b.permute(1, 2, 0)], dim=1).permute(2, 0, 1)
                save_rgb(pair, out / split / name)
                tick(1)
            elif spec.layout == "labels":
                scene = make_scene(scene_seed(spec, f"{split}_img", i), k)
                label, inst, shade = render_maps(scene, s)
                save_ids(label, out / f"{split}_label" / name)
                save_ids(inst, out / f"{split}_inst" / name, sixteen_bit=True)
                save_rgb(render_photo(scene, label, shade, looks[0]), out / f"{split}_img" / name)
                tick(1)
            elif split == "train":  # unaligned: A and B from different scenes
                for domain, style in (("A", 0), ("B", 1)):
                    scene = make_scene(scene_seed(spec, f"train{domain}", i), k)
                    label, _, shade = render_maps(scene, s)
                    save_rgb(render_photo(scene, label, shade, looks[style]), out / f"train{domain}" / name)
                    tick(1)
            else:  # unaligned held-out: the same scene in both styles, same file name
                scene = make_scene(scene_seed(spec, "testA", i), k)
                label, _, shade = render_maps(scene, s)
                for domain, style in (("A", 0), ("B", 1)):
                    save_rgb(render_photo(scene, label, shade, looks[style]), out / f"test{domain}" / name)
                    tick(1)
    (out / MANIFEST).write_text(json.dumps(manifest(spec), indent=2), encoding="utf-8")
    return out


# --- cache --------------------------------------------------------------------------


def cache_root() -> Path:
    """``$I2I_CACHE`` or ``~/.cache/i2i``."""
    return Path(os.environ.get("I2I_CACHE") or "~/.cache/i2i").expanduser()


def spec_key(spec: SyntheticSpec) -> str:
    """A short hash of the normalised spec and the generator version (the cache folder's suffix)."""
    text = json.dumps({**spec.model_dump(), "version": SYNTHETIC_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_synthetic(spec: dict | SyntheticSpec) -> Path:
    """The cache folder of ``spec``, generated first when missing.

    The set is written to a temporary sibling folder and renamed into place, so a
    folder under its final name is always complete; when two processes race, the
    first rename wins and the other's copy is discarded.

    Args:
        spec: generator options (validated; errors name ``data.synthetic.<field>``).

    Returns:
        ``$I2I_CACHE/synthetic/<layout>-<hash>/``.

    Raises:
        ConfigError: the spec is invalid.
        DataError: the final folder exists without its manifest (not written by us).
    """
    spec = validate_spec(spec)
    final = cache_root() / "synthetic" / f"{spec.layout}-{spec_key(spec)}"
    if (final / MANIFEST).is_file():
        return final
    if final.exists():
        raise DataError(f"synthetic data folder {final} exists but has no {MANIFEST}; expected a complete "
                        f"generated set (delete the folder to regenerate it)")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache may be shared
        generate(spec, tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MANIFEST).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished first: use its copy
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
