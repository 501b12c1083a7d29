"""``Translator``: a trained run as a function from images to images.

Example:
    >>> from i2i_core import Translator                                    # doctest: +SKIP
    >>> t = Translator.from_run("runs/facades", device="cuda", precision="bf16")
    >>> out = t(Image.open("label.png"))          # PIL in, PIL out, at the input's size
    >>> arr = t(np.load("scan.npy"))              # ndarray (H, W[, C]) in, ndarray out, same dtype
    >>> t.folder("photos/", "out/")               # every image of a folder, at its own depth

Inputs run at their own resolution (padded to the generator's size multiple, cropped back),
or tiled (``tile=512, overlap=64``; ``tile="auto"`` with ``max_memory``) when they are too
large for one pass. What comes back has the input's kind, size and depth:

* ``PIL.Image``: a PIL image (8-bit grey/RGB/RGBA, 16-bit grey ``I;16``, float ``F``);
* ``numpy.ndarray`` (H, W) or (H, W, C) of uint8/uint16/float32: the same layout and dtype
  (float mapped to ``value_range``);
* ``torch.Tensor`` (C, H, W) or (N, C, H, W): float in [-1, 1] in and out (uint8/uint16
  tensors are scaled like files);
* a path (``str``/``Path``): the decoded file is translated; the result comes back as a PIL
  image where PIL can hold it, else as an ndarray.

What a model reads comes from its recipe's :class:`~i2i_core.recipe.contract.InferenceSpec`:
for a label-map model (pix2pixHD) the input is a map of integer class ids, and ``inst=`` passes
the instance map of the same size when the model takes one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from i2i_core.assembly.engine import Engine
from i2i_core.base.errors import ConfigError, DataError, I2IError
from i2i_core.inference.loading import load_for_inference
from i2i_core.inference.spec import resolved_spec
from i2i_core.inference.tiling import ShapedGenerator, auto_tile
from i2i_core.io import checkpoint as ckpt
from i2i_core.io import images as imageio
from i2i_core.io.data import seeded_keys
from i2i_core.io.images import IMAGE_SUFFIXES
from i2i_core.training.precision import resolve_device, resolve_precision

#: inputs whose longer side exceeds this many training crops get a note (statistics differ)
LARGE_INPUT_FACTOR = 4


class TranslateNote(UserWarning):
    """Something the user should know about a translation that is not an error."""


def _parse_resize(resize: str | tuple[int, int] | None) -> str | tuple[int, int] | None:
    if resize is None or resize == "train" or isinstance(resize, tuple):
        return resize
    try:
        w, h = (int(v) for v in str(resize).lower().split("x"))
        if w > 0 and h > 0:
            return (w, h)
    except ValueError:
        pass
    raise ConfigError(f"--resize {resize!r}: expected WxH (e.g. 256x256) or 'train' (the training preprocessing)")


class Translator:
    """Translate images with a recipe whose inference networks are loaded.

    Args:
        recipe: a built recipe with weights (see :meth:`from_run`).
        run: its resolved :class:`~i2i_core.config.schema.RunConfig`.
        device: where the networks are (they are moved there).
        precision: ``fp32``, ``bf16`` or ``fp16`` (autocast).
        tile: tile side in pixels, ``"auto"`` (largest that fits ``max_memory``), or None.
        overlap: pixels shared by neighbouring tiles.
        max_memory: activation budget in bytes for ``tile="auto"``.
        norm_stats: ``"global"`` (whole-image statistics for per-image norm layers) or ``"tile"``.
        resize: None (native size), ``(W, H)``, or ``"train"`` (the training preprocessing).
        value_range: ``(lo, hi)`` of float inputs (default ``data.value_range`` of the run).
    """

    def __init__(self, recipe: Any, run: Any, *, device: str | torch.device = "cpu", precision: str = "fp32",
                 tile: int | str | None = None, overlap: int = 64, max_memory: int | None = None,
                 norm_stats: Literal["global", "tile"] = "global", resize: str | tuple[int, int] | None = None,
                 value_range: tuple[float, float] | None = None, engine: Any = None) -> None:
        self.recipe, self.run, self.engine = recipe, run, engine
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        for net in recipe.nets.values():
            net.to(self.device)
        self.net_name = recipe.inference_nets()[0]
        net = recipe.nets[self.net_name]
        #: what the model takes and gives (the recipe's inference contract, blanks measured on ``net``)
        self.spec = resolved_spec(recipe, net)
        self.multiple = self.spec.size_multiple or 1
        if tile == "auto":
            if not max_memory:
                raise ConfigError("--tile auto needs --max-memory (e.g. 2GiB): the activation budget per tile")
            tile = auto_tile(net, max_memory, self.multiple, overlap)
        elif tile is not None:
            tile = int(tile)
        self.tile, self.overlap, self.norm_stats = tile, overlap, norm_stats
        self.resize = _parse_resize(resize)
        self.value_range = value_range if value_range is not None else getattr(run.data, "value_range", None)

    @property
    def ids_input(self) -> bool:
        """Whether the input is a map of integer class ids (``spec.input_kind == "label_map"``)."""
        return self.spec.reads_ids

    @property
    def input_nc(self) -> int | None:
        """Channels of the input (1 for a label map)."""
        return self.spec.input_channels

    @property
    def batch_dependent(self) -> bool:
        """Whether outputs depend on the batch's statistics (train-mode BatchNorm): one image per batch."""
        return self.spec.batch_statistics

    # --- construction --------------------------------------------------------------------
    @classmethod
    def from_run(cls, run: str | Path, *, device: str = "auto", precision: str = "fp32",
                 overrides: list[str] | tuple[str, ...] = (), engine: Any = None, ema: bool = True,
                 **kwargs: Any) -> Translator:
        """Load a run folder (or weights file) for inference: only the networks it needs.

        Args:
            run: run folder, checkpoints folder or ``.safetensors`` file.
            device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
            precision: ``fp32``, ``bf16`` or ``fp16``.
            overrides: ``--set``-style config overrides (e.g. ``["data.direction=BtoA"]``).
            ema: use the generators' moving average when the checkpoint keeps one (``trainer.ema_decay``).
            **kwargs: the other arguments of :class:`Translator` (``tile``, ``overlap`` ...).
        """
        engine = engine or Engine(warn=False)
        weights = ckpt.find_weights(run)
        recipe, cfg = load_for_inference(engine, weights, list(overrides), device, ema=ema)
        folder = Path(run)
        if folder.is_dir():
            recipe.run_dir = folder
        return cls(recipe, cfg, device=resolve_device(device), precision=precision, engine=engine, **kwargs)

    # --- the core: a normalised batch in, a normalised batch out ------------------------------
    @contextmanager
    def _shaped(self) -> Iterator[None]:
        """Swap the inference network for a padding/tiling wrapper while the recipe translates."""
        net = self.recipe.nets[self.net_name]
        self.recipe.nets[self.net_name] = ShapedGenerator(net, self.multiple, self.tile, self.overlap, self.norm_stats)
        try:
            yield
        finally:
            self.recipe.nets[self.net_name] = net

    def translate_batch(self, batch: dict[str, Any]) -> torch.Tensor:
        """``recipe.translate`` on a batch dict at its own size: (N, C_out, H, W) float32 on the CPU."""
        key = self.recipe.inference.input
        x = batch[key]
        crop = self.run.data.crop_size
        if max(x.shape[-2:]) > LARGE_INPUT_FACTOR * crop:
            warnings.warn(f"input {x.shape[-1]}x{x.shape[-2]} is more than {LARGE_INPUT_FACTOR}x the training crop "
                          f"({crop}); the generator runs at full size, but image statistics differ from training",
                          TranslateNote, stacklevel=3)
        trained_batch = getattr(self.run.data, "batch_size", 1)
        if self.batch_dependent and trained_batch > 1:
            # the reference's test.py semantics, kept; but such a model never trained on one-image statistics
            warnings.warn(f"this generator trained with BatchNorm at batch {trained_batch} and translates in train "
                          "mode (the reference's test.py), normalising each image by its own statistics; "
                          "--set model.eval_mode=true uses the running statistics instead", TranslateNote,
                          stacklevel=3)
        batch = {k: (v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
                 for k, v in batch.items()}
        with self._shaped(), self.precision.autocast(), torch.no_grad():
            out = self.recipe.translate(batch)
        return out.float().cpu()

    def _resize(self, x: torch.Tensor, ids: bool | None = None) -> torch.Tensor:
        """``--resize WxH``: bicubic (antialiased) for photos, nearest for id maps (labels, instances)."""
        if not isinstance(self.resize, tuple):
            return x
        w, h = self.resize
        ids = self.ids_input if ids is None else ids
        if ids:
            return F.interpolate(x[None], size=(h, w), mode="nearest")[0]
        y = F.interpolate(x[None], size=(h, w), mode="bicubic", antialias=True, align_corners=False)
        return y[0].clamp(-1, 1)

    # --- in-memory images ----------------------------------------------------------------------
    def _decoded_input(self, d: imageio.Decoded) -> tuple[torch.Tensor, imageio.Depth]:
        if self.ids_input:
            if d.channels != 1 or d.depth == "float32":
                raise DataError(f"label map {d.path} is {d.mode}; expected one channel of integer class ids "
                                "(8- or 16-bit grey PNG)")
            return d.data.to(torch.float32), d.depth
        x = imageio.normalize(imageio.to_unit(d, self.value_range))
        return imageio.fit_channels(x, self.input_nc, d.path, d.mode), d.depth

    def _run_one(self, x: torch.Tensor, inst: Any = None) -> torch.Tensor:
        x = self._resize(x)
        batch: dict[str, Any] = {self.recipe.inference.input: x[None]}
        if inst is not None and not self.spec.instance_map:
            raise ConfigError(f"inst= was given, but this {self.run.recipe} model takes no instance map; "
                              "pass the input alone")
        if inst is not None:
            d = inst if isinstance(inst, imageio.Decoded) else _decode_any(inst)
            t = self._resize(d.data.to(torch.float32), ids=True)
            if t.shape[-2:] != x.shape[-2:]:
                raise DataError(f"instance map {d.path} is {t.shape[-1]}x{t.shape[-2]} but the label map is "
                                f"{x.shape[-1]}x{x.shape[-2]}; expected the same size")
            batch["inst"] = t[None]
        return self.translate_batch(batch)[0]

    def __call__(self, image: Any, inst: Any = None) -> Any:
        """Translate one image; returns the same kind (see the module docstring)."""
        import numpy as np
        from PIL import Image

        if isinstance(image, torch.Tensor):
            if image.dtype in (torch.uint8, torch.uint16):
                d = imageio.Decoded(image if image.dim() == 3 else image[None], "tensor", "<tensor>")
                return self._run_one(self._decoded_input(d)[0], inst)
            x = image.float()
            if x.dim() == 4:
                return torch.stack([self._run_one(xi, inst) for xi in x])
            if x.dim() != 3:
                raise DataError(f"tensor of shape {tuple(image.shape)}: expected (C, H, W) or (N, C, H, W)")
            return self._run_one(x, inst)
        decoded = _decode_any(image)
        x, depth = self._decoded_input(decoded)
        out = self._run_one(x, inst)
        samples = imageio.from_normalized(out, depth, self.value_range)
        arr = samples.permute(1, 2, 0).numpy().astype({"uint8": np.uint8, "uint16": np.uint16,
                                                        "float32": np.float32}[depth])
        if isinstance(image, np.ndarray):
            return arr[..., 0] if image.ndim == 2 and arr.shape[-1] == 1 else arr
        if arr.shape[-1] == 1 or (depth == "uint8" and arr.shape[-1] in (3, 4)):
            return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
        if isinstance(image, Image.Image):
            raise DataError(f"the output ({arr.shape[-1]} channels, {depth}) has no PIL mode; pass an ndarray "
                            "or a path to get an ndarray back")
        return arr

    # --- folders -------------------------------------------------------------------------------
    def _dataset(self, root: Path) -> Any:
        """The recipe's inference reader over ``root``, reading at native size (or the training size)."""
        recipe, run = self.recipe, self.run
        update: dict[str, Any] = {"root": str(root), "synthetic": None, "serial_batches": True,
                                  "value_range": self.value_range}
        if self.resize != "train":
            update["preprocess"] = "none"  # native size: the generator wrapper pads to its multiple
        cfg = run.data.model_copy(update=update)
        cfg.load_size = cfg.crop_size  # --resize train: the references' test-time convention
        dataset = self.engine.registries.datasets.build(recipe.inference.reader, cfg, "test")
        recipe.configure_dataset(dataset, "test")
        if self.resize != "train":
            dataset.size_multiple = 1  # mode none rounds to this: 1 keeps every pixel
        if hasattr(dataset, "channels") and self.input_nc and not self.ids_input:
            dataset.channels = {recipe.inference.input: self.input_nc}
        return dataset

    def folder(self, src: str | Path | list[Path], dst: str | Path, *, batch_size: int = 4, workers: int = 2,
               output_format: str = "auto", progress: Callable[[int], None] | None = None,
               on_total: Callable[[int], None] | None = None) -> list[Path]:
        """Translate every image of ``src`` into ``dst``; returns the written files.

        Images of equal size are batched (up to ``batch_size``), decoding runs ``workers``
        threads ahead, and every output is written at its input's depth (8-bit in, 8-bit
        out; 16-bit in, 16-bit out; float in, float TIFF out) unless ``output_format`` says
        ``png``, ``tif`` or ``jpg``.

        Args:
            src: a folder, a list of image files, or a data root in the recipe's reader layout.
            dst: output folder (created).
            progress: called with the number of images done after each batch.
            on_total: called once with the number of images.
        """
        import tempfile

        if self.engine is None:
            self.engine = Engine(warn=False)
        dst = Path(dst)
        _writable(dst)
        folder_name = self.recipe.inference.folder
        links: dict[str, str] = {}
        with tempfile.TemporaryDirectory() as scratch:
            if not isinstance(src, (list, tuple)) and (Path(src) / folder_name).is_dir():
                root = Path(src)  # a data root in the reader's own layout (pix2pixHD: test_label/ + test_inst/)
            else:
                files = list(src) if isinstance(src, (list, tuple)) else collect_images(src)
                root = Path(scratch)
                for i, f in enumerate(files):  # the reader takes a folder; links keep the names without copying
                    sub = root / folder_name / f"{i:06d}"  # one folder each: equal names from two folders
                    sub.mkdir(parents=True)
                    (sub / Path(f).name).symlink_to(Path(f).resolve())
                    links[str(sub / Path(f).name)] = str(f)
            try:
                dataset = self._dataset(root)
                return self._translate_dataset(dataset, dst, batch_size, workers, output_format, progress, on_total)
            except I2IError as exc:  # name the user's files, not the links in the scratch folder
                message = str(exc)
                for link, original in links.items():
                    message = message.replace(link, original)
                exc.args = (message, *exc.args[1:])
                raise

    def _translate_dataset(self, dataset: Any, dst: Path, batch_size: int, workers: int, output_format: str,
                           progress: Callable[[int], None] | None,
                           on_total: Callable[[int], None] | None) -> list[Path]:
        n = len(dataset)
        if on_total:
            on_total(n)
        key = self.recipe.inference.input
        if self.batch_dependent and batch_size > 1:
            batch_size = 1  # batch statistics would mix images: the reference translates one at a time
        keyed = seeded_keys(dataset)
        names = _output_names([Path(p) for p in _source_paths(dataset, key)], output_format, self)
        written: list[Path] = []

        def load(i: int) -> dict[str, Any]:
            item = dataset[(i, 0)] if keyed else dataset[i]
            size = item[key].shape[-2:]
            for k, v in list(item.items()):  # the label map and its instance map resize together
                if isinstance(v, torch.Tensor) and v.dim() == 3 and v.shape[-2:] == size:
                    item[k] = self._resize(v, ids=self.ids_input if k == key else k == "inst")
            return item

        pending: list[dict[str, Any]] = []

        def flush() -> None:
            batch = {k: (torch.stack([it[k] for it in pending]) if isinstance(pending[0][k], torch.Tensor)
                         else [it[k] for it in pending]) for k in pending[0]}
            out = self.translate_batch(batch)
            for item, img in zip(pending, out, strict=True):
                src = item[f"{key}_path"]
                name, depth = names[src]
                written.append(imageio.write_image(dst / name, img, depth, self.value_range))
            if progress:
                progress(len(pending))
            pending.clear()

        with ThreadPoolExecutor(max(1, workers)) as pool:
            ahead = max(2 * batch_size, workers)
            futures = [pool.submit(load, i) for i in range(min(ahead, n))]
            for i in range(n):
                item = futures[i].result()
                if i + ahead < n:
                    futures.append(pool.submit(load, i + ahead))
                futures[i] = None  # type: ignore[call-overload] # let the item go once used
                if pending and (pending[0][key].shape != item[key].shape or len(pending) == batch_size):
                    flush()
                pending.append(item)
            if pending:
                flush()
        return written


# --- helpers ---------------------------------------------------------------------------------


def collect_images(spec: str | Path) -> list[Path]:
    """An image file, the images of a folder (not recursive) or of a glob, sorted.

    Raises:
        DataError: nothing matches.
    """
    import glob

    p = Path(spec)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    else:
        files = sorted(Path(f) for f in glob.glob(str(spec)) if Path(f).suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"--input {spec}: no images found (expected an image file, a folder of images or a glob)")
    return files


def _decode_any(image: Any) -> imageio.Decoded:
    """A path, PIL image or ndarray as :class:`~i2i_core.io.images.Decoded`."""
    import numpy as np
    from PIL import Image

    if isinstance(image, (str, Path)):
        return imageio.read_image(image)
    if isinstance(image, Image.Image):
        return imageio._from_pil(image, "<PIL image>")
    if isinstance(image, np.ndarray):
        arr = image
        if arr.dtype == np.float64 or arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        if arr.dtype not in (np.uint8, np.uint16, np.float32):
            raise DataError(f"ndarray of dtype {arr.dtype}: expected uint8, uint16 or float32 samples")
        if arr.ndim == 2:
            arr = arr[None]
        elif arr.ndim == 3:
            arr = arr.transpose(2, 0, 1)
        else:
            raise DataError(f"ndarray of shape {image.shape}: expected (H, W) or (H, W, C)")
        return imageio.Decoded(torch.from_numpy(np.ascontiguousarray(arr)), f"{image.dtype} ndarray", "<ndarray>")
    raise DataError(f"cannot translate a {type(image).__name__}: expected a PIL image, an ndarray, a tensor or a path")


def _source_paths(dataset: Any, key: str) -> list[str]:
    for attr in ("paths", f"{key}_paths", "A_paths", "label_paths"):
        if hasattr(dataset, attr):
            return [str(p) for p in getattr(dataset, attr)]
    raise DataError(f"reader {type(dataset).__name__} does not list its files; expected a 'paths' attribute")


def _output_names(paths: list[Path], output_format: str, translator: Translator) -> dict[str, tuple[str, Any]]:
    """``source -> (output file name, depth)``; inputs sharing a stem (``a.png``, ``a.jpg``) keep
    distinct names (``a.png``, ``a.jpg.png``)."""
    formats = {"auto": None, "png": ".png", "tif": ".tif", "tiff": ".tif", "jpg": ".jpg"}
    if output_format not in formats:
        raise ConfigError(f"--output-format {output_format!r}: expected one of {', '.join(formats)}")
    out_nc = translator.spec.output_channels or 1
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    names: dict[str, tuple[str, Any]] = {}
    for p in paths:
        depth = imageio.probe_depth(p) if not translator.ids_input else "uint8"
        if output_format == "jpg" and depth != "uint8":
            raise DataError(f"--output-format jpg cannot hold {p} ({depth}); use png or tif")
        suffix = formats[output_format] or imageio.default_suffix(depth, out_nc)
        if suffix == ".png" and (depth == "float32" or out_nc > 4):
            raise DataError(f"--output-format png cannot hold the output of {p} ({depth}, {out_nc} channels); "
                            "use tif (or auto)")
        clash = stems[p.stem] > 1 and p.suffix.lower() != suffix
        names[str(p)] = ((p.name if clash else p.stem) + suffix, depth)
    return names


def _writable(folder: Path) -> None:
    """Create ``folder`` or raise one line naming it when it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"--output {folder}: cannot create it ({exc.strerror}); expected a writable folder") from None
    if not folder.is_dir():
        raise DataError(f"--output {folder} exists and is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"--output {folder} is not writable; choose a folder you can write to")
