"""Readers at every depth and channel count: 16-bit levels survive, float TIFF ranges, RGBA and N-channel images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from datasets_helpers import cfg
from PIL import Image

from i2i_core import DataError, write_png16
from i2i_datasets.readers import build_aligned, build_single

tifffile = pytest.importorskip("tifffile")
NATIVE = {"preprocess": "none", "load_size": 64, "crop_size": 64}


def _single(folder: Path, **kw) -> object:
    return build_single(cfg(root=str(folder), **{**NATIVE, **kw}), "test")


def test_sixteen_bit_grey_png_keeps_every_level(tmp_path: Path) -> None:
    # 200 distinct levels, all inside one 8-bit step range pairwise: an 8-bit reader merges them
    levels = np.linspace(1000, 1000 + 2 * 199, 200).astype(np.uint16)
    Image.fromarray(np.tile(levels, (8, 1))).save(tmp_path / "g.png")
    x = _single(tmp_path)[0]["A"]
    assert x.shape == (3, 8, 200)  # grey is repeated to RGB, as the reference does
    assert len(torch.unique(x[0])) == 200
    assert torch.allclose(x[0, 0], torch.from_numpy(levels).float() / 65535 * 2 - 1, atol=1e-6)


def test_sixteen_bit_rgb_png_through_resizing_keeps_its_levels(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 48 * 40 * 3).astype(np.uint16).reshape(40, 48, 3)
    write_png16(ramp, tmp_path / "c.png")
    x = build_single(cfg(root=str(tmp_path), load_size=32, crop_size=32), "test")[0]["A"]  # bicubic resize + crop
    assert x.shape == (3, 32, 32)
    assert len(torch.unique(x)) > 1000  # an 8-bit path could hold at most 256 per channel


def test_float_tiff_uses_the_stated_value_range(tmp_path: Path) -> None:
    values = np.random.default_rng(0).random((16, 20), dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", values)
    with pytest.raises(DataError, match=r"f\.tif.*data\.value_range"):
        _single(tmp_path)[0]
    x = _single(tmp_path, value_range=(0.0, 1.0))[0]["A"]
    assert torch.allclose(x[0], torch.from_numpy(values) * 2 - 1, atol=1e-6)
    with pytest.raises(DataError, match=r"outside data\.value_range \[0, 0\.5\]"):
        _single(tmp_path, value_range=(0.0, 0.5))[0]


def test_five_channel_tiff_is_read_whole(tmp_path: Path) -> None:
    bands = np.random.default_rng(0).integers(0, 65535, (12, 16, 5), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "ms.tif", bands, photometric="minisblack", planarconfig="contig")
    reader = _single(tmp_path)
    reader.channels = {"A": 5}
    x = reader[0]["A"]
    assert x.shape == (5, 12, 16)
    assert torch.allclose(x, torch.from_numpy(bands.transpose(2, 0, 1).astype(np.float32)) / 65535 * 2 - 1, atol=1e-6)
    reader.channels = {"A": 3}
    with pytest.raises(DataError, match=r"ms\.tif is 16-bit 5-channel TIFF with 5 channels but model\.input_nc is 3"):
        reader[0]


def test_rgba_is_kept_or_refused_never_dropped(tmp_path: Path) -> None:
    rgba = np.random.default_rng(0).integers(0, 256, (8, 12, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    reader = _single(tmp_path)
    assert reader[0]["A"].shape == (4, 8, 12)
    reader.channels = {"A": 3}
    with pytest.raises(DataError, match=r"a\.png is PIL RGBA with 4 channels but model\.input_nc is 3.*alpha"):
        reader[0]


def test_eight_bit_photos_keep_the_reference_path(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    x = build_single(cfg(root=str(tmp_path)), "test")[0]["A"]
    img = Image.fromarray(rgb).resize((20, 20), Image.BICUBIC).crop((2, 2, 18, 18))
    expected = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float().div(255).sub(0.5).div(0.5)
    assert torch.equal(x, expected)


def test_sixteen_bit_aligned_pairs_split_in_halves(tmp_path: Path) -> None:
    a = np.full((16, 16), 1000, np.uint16)
    b = np.full((16, 16), 50000, np.uint16)
    (tmp_path / "test").mkdir()
    Image.fromarray(np.concatenate([a, b], axis=1)).save(tmp_path / "test" / "ab.png")
    item = build_aligned(cfg(root=str(tmp_path), **NATIVE), "test")[0]
    assert torch.allclose(item["A"], torch.full((3, 16, 16), 1000 / 65535 * 2 - 1), atol=1e-6)
    assert torch.allclose(item["B"], torch.full((3, 16, 16), 50000 / 65535 * 2 - 1), atol=1e-6)
