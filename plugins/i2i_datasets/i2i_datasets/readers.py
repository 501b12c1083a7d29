"""Dataset readers: ``aligned``, ``unaligned``, ``single`` and ``labels`` (alias ``cityscapes``).

Every reader is a map-style dataset of dicts: float CHW tensors in [-1, 1] (id maps:
raw integer ids as float) plus ``<key>_path`` strings. An item key is an ``int`` or an
``(index, seed)`` pair; with a seed, every random choice of the item (crop position,
flip, the unaligned B image) comes from ``torch.Generator().manual_seed(seed)``, so
the item depends on its key only. Without a seed torch's global RNG is used.

Only file paths are kept in memory; images are decoded on access.

Attributes a recipe may set on a reader after building it:

* ``size_multiple`` (default 4): rounding base of preprocess mode ``none``.
* ``grayscale`` (default False): True turns every photo key (``A``, ``B``,
  ``image``) into one channel (ITU-R 601 luma, as the reference's
  ``Grayscale(1)``); a collection of keys (e.g. ``{"A"}``) limits it to those.
* ``channels`` (default ``{}``): channels each photo key must have (e.g.
  ``{"A": 3, "B": 3}`` from ``input_nc``/``output_nc``); a file with other channels is a
  :class:`DataError` naming the file, its mode and the setting that fits it (grey is still
  repeated to RGB, as the reference does).

Photos keep their depth: 8-bit files take the reference's PIL path; 16-bit PNG/TIFF,
float TIFF (values mapped with ``data.value_range``), alpha and N-channel images are
read losslessly and resized plane by plane in float32 (see :class:`~i2i_datasets._io.Photo`).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset

from i2i_core import ConfigError, DataError

from ._io import COLOUR_MODES, Photo, ids_image, ids_to_tensor, list_images, open_image, open_photo, to_normalized
from .preprocess import Plan, Preprocess

# which synthetic layout each reader reads when data.root is unset
_SYNTHETIC_LAYOUT = {"aligned": "aligned", "unaligned": "unaligned", "single": "unaligned", "labels": "labels"}
#: the setting that decides each photo key's channel count (named in channel errors)
_CHANNEL_FIELDS = {"A": "model.input_nc", "B": "model.output_nc", "image": "model.output_nc"}


class _Reader(Dataset):
    """Shared key handling, preprocessing and photo conversion."""

    #: tells the core's sampler to pass ``(index, seed)`` keys
    seeded_items = True

    def __init__(self, cfg: Any, split: str) -> None:
        self.cfg = cfg
        self.split = split
        self.preprocess = Preprocess.from_config(cfg, split)
        self.size_multiple: int = 4
        self.grayscale: bool | Collection[str] = False
        self.channels: dict[str, int] = {}
        self.value_range = getattr(cfg, "value_range", None)

    def __len__(self) -> int:  # pragma: no cover - every reader overrides it
        raise NotImplementedError

    def _resolve_key(self, key: Any) -> tuple[int, torch.Generator | None]:
        if isinstance(key, (tuple, list)):
            if len(key) != 2:
                raise TypeError(f"{type(self).__name__} key {key!r}: expected an int or an (index, seed) pair")
            index = int(key[0])
            # manual_seed takes 64-bit values; fold anything else into that range
            rng = torch.Generator().manual_seed(int(key[1]) & 0xFFFF_FFFF_FFFF_FFFF)
        else:
            index, rng = int(key), None
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"{type(self).__name__} index {index} out of range for {n} items")
        return index, rng

    def _plan(self, size: tuple[int, int], rng: torch.Generator | None) -> Plan:
        return self.preprocess.plan(size, rng, self.size_multiple)

    def _is_gray(self, key: str) -> bool:
        g = self.grayscale
        if isinstance(g, bool):
            return g
        return key in g

    def _open(self, path: Path) -> Photo:
        return open_photo(path, self.value_range)

    def _photo(self, img: Photo, plan: Plan, key: str) -> torch.Tensor:
        gray = self._is_gray(key)
        if gray:
            img = img.to_gray()  # before resizing, like the reference's transform order
        img = img.map(lambda plane: Preprocess.apply(plane, plan, Image.Resampling.BICUBIC))
        want = self.channels.get(key)
        if want is None and not gray and img.channels == 1:
            want = 3  # a grey photo in an RGB data set: repeated, as the reference's convert('RGB')
        return img.to_normalized(want, _CHANNEL_FIELDS.get(key, "model.input_nc"))


class AlignedDataset(_Reader):
    """Pairs stored side by side, A on the left: ``ROOT/<split>/*.png`` (pix2pix layout).

    Items: ``A``, ``B`` (3, H, W), ``A_path``, ``B_path`` (both the pair's file). Both
    halves get the same crop and flip. ``direction == "BtoA"`` swaps the halves.

    Args:
        root: the data folder.
        split: sub-folder to read (``train``, ``test``, ``val`` ...).
        cfg: a :class:`i2i_core.DataConfig`.
    """

    def __init__(self, root: Path, split: str, cfg: Any) -> None:
        super().__init__(cfg, split)
        self.root = Path(root)
        self.folder = self.root / split
        self.paths = list_images(self.folder, f"A|B image pairs side by side in one file ({self.root}/{split}/*.png)",
                                 cfg.max_dataset_size)
        self.swap = cfg.direction == "BtoA"

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, rng = self._resolve_key(key)
        path = self.paths[index]
        ab = self._open(path)
        w, h = ab.size
        if w % 2:
            raise DataError(f"aligned image {path} has odd width {w}; expected A and B side by side "
                            f"(width = 2 x the width of one image)")
        half = w // 2
        a, b = ab.map(lambda p: p.crop((0, 0, half, h))), ab.map(lambda p: p.crop((half, 0, w, h)))
        if self.swap:
            a, b = b, a
        plan = self._plan(a.size, rng)
        return {"A": self._photo(a, plan, "A"), "B": self._photo(b, plan, "B"),
                "A_path": str(path), "B_path": str(path)}


class UnalignedDataset(_Reader):
    """Two unpaired folders ``ROOT/<split>A`` and ``ROOT/<split>B`` (CycleGAN layout).

    Length ``max(|A|, |B|)``; A is indexed modulo its size. During training the B
    image is drawn at random for every item unless ``serial_batches``; for other
    splits B is paired by index, as the reference's ``test.py`` forces
    ``serial_batches`` (with identical sorted file names that pairs each A with its
    own B). A and B get independent crops and flips. ``direction == "BtoA"`` reads
    ``<split>B`` as A and ``<split>A`` as B.

    Items: ``A``, ``B`` (3, H, W), ``A_path``, ``B_path``.

    Args:
        root: the data folder.
        split: split prefix (``train``, ``test`` ...).
        cfg: a :class:`i2i_core.DataConfig`.
    """

    def __init__(self, root: Path, split: str, cfg: Any) -> None:
        super().__init__(cfg, split)
        self.root = Path(root)
        name_a, name_b = f"{split}A", f"{split}B"
        if cfg.direction == "BtoA":
            name_a, name_b = name_b, name_a
        self.dir_A, self.dir_B = self.root / name_a, self.root / name_b
        self.A_paths = list_images(self.dir_A, f"the images of one domain ({self.root}/{split}A and {split}B)",
                                   cfg.max_dataset_size)
        self.B_paths = list_images(self.dir_B, f"the images of one domain ({self.root}/{split}A and {split}B)",
                                   cfg.max_dataset_size)
        self.serial = bool(cfg.serial_batches) or split != "train"

    def __len__(self) -> int:
        return max(len(self.A_paths), len(self.B_paths))

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, rng = self._resolve_key(key)
        a_path = self.A_paths[index % len(self.A_paths)]
        if self.serial:
            b_index = index % len(self.B_paths)
        else:
            b_index = int(torch.randint(0, len(self.B_paths), (1,), generator=rng).item())
        b_path = self.B_paths[b_index]
        a, b = self._open(a_path), self._open(b_path)
        plan_a = self._plan(a.size, rng)
        plan_b = self._plan(b.size, rng)
        return {"A": self._photo(a, plan_a, "A"), "B": self._photo(b, plan_b, "B"),
                "A_path": str(a_path), "B_path": str(b_path)}


class SingleDataset(_Reader):
    """One folder of images, e.g. for inference. Items: ``A`` (3, H, W) and ``A_path``.

    Args:
        folder: the folder to read (recursively).
        split: only decides augmentation (``train`` augments, anything else does not).
        cfg: a :class:`i2i_core.DataConfig`.
    """

    def __init__(self, folder: Path, split: str, cfg: Any) -> None:
        super().__init__(cfg, split)
        self.folder = Path(folder)
        self.paths = list_images(self.folder, "the images to translate", cfg.max_dataset_size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, rng = self._resolve_key(key)
        path = self.paths[index]
        img = self._open(path)
        return {"A": self._photo(img, self._plan(img.size, rng), "A"), "A_path": str(path)}


class LabelsDataset(_Reader):
    """Label maps, optional instance maps and photos (pix2pixHD / Cityscapes layout).

    Folders ``ROOT/<split>_label``, ``ROOT/<split>_inst`` (optional) and
    ``ROOT/<split>_img``, paired by sorted position (as pix2pixHD does; Cityscapes'
    file names differ by suffix only).

    Items:

    * ``label``: a single-channel PNG (mode L, P, I or I;16) gives the raw integer
      ids as float (1, H, W), resized with NEAREST; an RGB label image (pix2pixHD's
      ``label_nc 0``) gives (3, H, W) in [-1, 1], resized bicubic.
    * ``inst`` (only when ``<split>_inst`` exists): instance ids as float (1, H, W), NEAREST.
    * ``image``: the photo, (3, H, W) in [-1, 1].
    * ``label_path``, ``inst_path``, ``image_path``.

    Outside the ``train`` split the photos are optional (inference from label maps):
    without ``<split>_img`` items have no ``image``.

    Args:
        root: the data folder.
        split: split prefix (``train``, ``test`` ...).
        cfg: a :class:`i2i_core.DataConfig`.
    """

    def __init__(self, root: Path, split: str, cfg: Any) -> None:
        super().__init__(cfg, split)
        self.root = Path(root)
        self.dir_label = self.root / f"{split}_label"
        self.dir_inst = self.root / f"{split}_inst"
        self.dir_image = self.root / f"{split}_img"
        layout = f"{self.root}/{split}_label, {split}_img and optionally {split}_inst"
        labels = list_images(self.dir_label, f"label maps (single-channel PNGs of class ids; layout {layout})")
        images = None  # photos are optional outside training: inference needs label maps only
        if split == "train" or self.dir_image.exists():
            images = list_images(self.dir_image, f"the photos matching the label maps (layout {layout})")
        insts = None
        if self.dir_inst.exists():
            insts = list_images(self.dir_inst, f"instance maps matching the label maps (layout {layout})")
        for folder, files in ((self.dir_image, images), (self.dir_inst, insts)):
            if files is not None and len(files) != len(labels):
                raise DataError(f"{folder} holds {len(files)} images but {self.dir_label} holds {len(labels)}; "
                                f"expected one per label map (paired in sorted order)")
        limit = cfg.max_dataset_size
        self.label_paths = labels[:limit] if limit else labels
        self.image_paths = (images[:limit] if limit else images) if images is not None else None
        self.inst_paths = (insts[:limit] if limit else insts) if insts is not None else None

    def __len__(self) -> int:
        return len(self.label_paths)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, rng = self._resolve_key(key)
        label_path = self.label_paths[index]
        label = open_image(label_path)
        plan = self._plan(label.size, rng)
        item: dict[str, Any] = {}
        if label.mode in COLOUR_MODES:
            item["label"] = to_normalized(Preprocess.apply(label.convert("RGB"), plan, Image.Resampling.BICUBIC))
        else:
            label = ids_image(label, label_path, "label map")
            item["label"] = ids_to_tensor(Preprocess.apply(label, plan, Image.Resampling.NEAREST))
        if self.inst_paths is not None:
            inst_path = self.inst_paths[index]
            inst = open_image(inst_path)
            if inst.size != label.size:
                raise DataError(f"instance map {inst_path} is {inst.size[0]}x{inst.size[1]} but label map "
                                f"{label_path} is {label.size[0]}x{label.size[1]}; expected the same size")
            inst = ids_image(inst, inst_path, "instance map")
            item["inst"] = ids_to_tensor(Preprocess.apply(inst, plan, Image.Resampling.NEAREST))
            item["inst_path"] = str(inst_path)
        item["label_path"] = str(label_path)
        if self.image_paths is None:
            return item
        image_path = self.image_paths[index]
        image = self._open(image_path)
        if image.size != label.size:
            raise DataError(f"photo {image_path} is {image.size[0]}x{image.size[1]} but label map {label_path} is "
                            f"{label.size[0]}x{label.size[1]}; expected the same size")
        item["image"] = self._photo(image, plan, "image")
        item["image_path"] = str(image_path)
        return item


# --- builders (the registry's ``builder(cfg, split)``) -----------------------------


def resolve_root(cfg: Any, reader: str) -> Path:
    """The folder a reader reads: ``data.root``, or the cached synthetic set of ``data.synthetic``.

    Raises:
        DataError: neither is set, or ``data.root`` does not exist.
        ConfigError: ``data.synthetic`` is invalid or asks for a layout the reader cannot read.
    """
    if cfg.root is not None:
        root = Path(cfg.root).expanduser()
        if not root.is_dir():
            raise DataError(f"data.root {root} is not an existing folder; expected the {reader} reader's data folder")
        return root
    if cfg.synthetic is None:
        raise DataError(f"data.root is not set (and data.synthetic neither); the {reader} reader expected a data "
                        f"folder (data.root=DIR) or a synthetic data spec (e.g. data.synthetic={{\"n\": 100}})")
    from .synthetic import ensure_synthetic, validate_spec

    wanted = _SYNTHETIC_LAYOUT[reader]
    spec = validate_spec({"layout": wanted, **cfg.synthetic})
    if spec.layout != wanted:
        raise ConfigError(f"data.synthetic.layout: the {reader} reader reads the {wanted!r} layout, "
                          f"got {spec.layout!r}")
    return ensure_synthetic(spec.model_dump())


def build_aligned(cfg: Any, split: str) -> AlignedDataset:
    """A|B pairs side by side in ``ROOT/<split>/`` (pix2pix)."""
    return AlignedDataset(resolve_root(cfg, "aligned"), split, cfg)


def build_unaligned(cfg: Any, split: str) -> UnalignedDataset:
    """Unpaired domains in ``ROOT/<split>A`` and ``ROOT/<split>B`` (CycleGAN)."""
    return UnalignedDataset(resolve_root(cfg, "unaligned"), split, cfg)


def build_single(cfg: Any, split: str) -> SingleDataset:
    """One folder of images (``ROOT/<split>`` when it exists, else ``ROOT``); item key ``A``."""
    root = resolve_root(cfg, "single")
    if cfg.root is None:  # synthetic: the unaligned layout's domain A
        return SingleDataset(root / f"{split}A", split, cfg)
    folder = root / split
    return SingleDataset(folder if folder.is_dir() else root, split, cfg)


def build_labels(cfg: Any, split: str) -> LabelsDataset:
    """Label maps + instance maps + photos in ``ROOT/<split>_label|_inst|_img`` (pix2pixHD)."""
    return LabelsDataset(resolve_root(cfg, "labels"), split, cfg)
