"""Turn a Cityscapes download into the ``labels`` reader's layout (pix2pixHD's ``datasets/cityscapes``).

Input (the official ``gtFine_trainvaltest`` and ``leftImg8bit_trainvaltest`` archives, unpacked
into one folder)::

    SRC/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png
    SRC/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_instanceIds.png
    SRC/leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png

Output (file names kept; the reader pairs the three folders by sorted position)::

    OUT/train_label, OUT/train_inst, OUT/train_img    <- train
    OUT/test_label,  OUT/test_inst,  OUT/test_img     <- val (the test split has no public labels)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from i2i_core import DataError

#: Cityscapes split -> our split prefix
SPLITS = {"train": "train", "val": "test"}
_LABEL, _INST, _IMG = "_gtFine_labelIds.png", "_gtFine_instanceIds.png", "_leftImg8bit.png"


def _frames(folder: Path, suffix: str) -> dict[str, Path]:
    """``{<city>_<seq>_<frame>: path}`` of the files under ``folder`` ending in ``suffix``."""
    return {p.name[: -len(suffix)]: p for p in folder.rglob(f"*{suffix}") if p.is_file()}


def plan_cityscapes(src: str | Path) -> list[tuple[Path, Path]]:
    """The ``(source file, relative destination)`` pairs for a Cityscapes tree.

    Raises:
        DataError: ``SRC`` lacks ``gtFine`` or ``leftImg8bit``, a split is missing or empty,
            or a photo has no label or instance map.
    """
    src = Path(src).expanduser()
    if not src.is_dir():
        raise DataError(f"Cityscapes folder {src} not found; expected a folder holding gtFine/ and leftImg8bit/")
    gt, left = src / "gtFine", src / "leftImg8bit"
    for folder, archive in ((gt, "gtFine_trainvaltest.zip"), (left, "leftImg8bit_trainvaltest.zip")):
        if not folder.is_dir():
            raise DataError(f"{folder} not found; expected a Cityscapes folder holding gtFine/ and leftImg8bit/ "
                            f"(unpack {archive} into {src})")
    jobs: list[tuple[Path, Path]] = []
    for split, ours in SPLITS.items():
        if not (left / split).is_dir() or not (gt / split).is_dir():
            raise DataError(f"{src}: expected {left / split} and {gt / split} (Cityscapes {split} split)")
        images = _frames(left / split, _IMG)
        if not images:
            raise DataError(f"{left / split} holds no *{_IMG} files; expected <city>/<city>_<seq>_<frame>{_IMG}")
        labels, insts = _frames(gt / split, _LABEL), _frames(gt / split, _INST)
        for kind, found, suffix in (("label", labels, _LABEL), ("instance", insts, _INST)):
            missing = sorted(set(images) - set(found))
            if missing:
                raise DataError(f"{gt / split}: no {kind} map {missing[0]}{suffix} for {images[missing[0]]} "
                                f"({len(missing)} of {len(images)} photos lack one); expected the full gtFine set")
        for frame in sorted(images):
            jobs.append((labels[frame], Path(f"{ours}_label") / labels[frame].name))
            jobs.append((insts[frame], Path(f"{ours}_inst") / insts[frame].name))
            jobs.append((images[frame], Path(f"{ours}_img") / images[frame].name))
    return jobs


def place(src: Path, dst: Path, link: bool) -> str:
    """Hard-link ``src`` to ``dst`` when ``link`` (copying across file systems), else copy.

    Returns:
        ``"link"`` or ``"copy"``: what was done.
    """
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if link:
        try:
            os.link(src, dst)
            return "link"
        except OSError:  # another file system, or links not supported: fall back to a copy
            pass
    shutil.copy2(src, dst)
    return "copy"


def prepare_cityscapes(src: str | Path, out: str | Path, *, link: bool = True,
                       progress: Callable[[int], None] | None = None,
                       jobs: list[tuple[Path, Path]] | None = None) -> dict[str, int]:
    """Hard-link (or copy) a Cityscapes tree into the ``labels`` layout under ``out``.

    Args:
        src: the Cityscapes folder (holding ``gtFine`` and ``leftImg8bit``).
        out: destination; the six ``<split>_label|_inst|_img`` folders are created.
        link: hard-link files (falls back to copying per file); False copies.
        progress: called with 1 after each file.
        jobs: the result of :func:`plan_cityscapes` for ``src`` when already computed.

    Returns:
        Counts: files per output folder plus ``linked`` and ``copied``.
    """
    if jobs is None:
        jobs = plan_cityscapes(src)
    out = Path(out).expanduser()
    counts: dict[str, int] = {"linked": 0, "copied": 0}
    for source, rel in jobs:
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        how = place(source, dst, link)
        counts["linked" if how == "link" else "copied"] += 1
        counts[str(rel.parent)] = counts.get(str(rel.parent), 0) + 1
        if progress is not None:
            progress(1)
    return counts
