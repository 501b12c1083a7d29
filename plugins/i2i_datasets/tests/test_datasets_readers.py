"""The readers on tiny folders: items, keys, determinism, shared crops and every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets_helpers import cfg, write_ids, write_pair, write_rgb
from PIL import Image

from i2i_core import ConfigError, DataError, Engine
from i2i_datasets import plugin
from i2i_datasets.readers import build_aligned, build_labels, build_single, build_unaligned


def _aligned_root(tmp_path: Path, n: int = 3, same: bool = False, size: int = 24) -> Path:
    for split in ("train", "test"):
        for i in range(n):
            write_pair(tmp_path / "ab" / split / f"{i:03d}.png", size, seed=i, same=same)
    return tmp_path / "ab"


def _unaligned_root(tmp_path: Path, n_a: int = 3, n_b: int = 5) -> Path:
    root = tmp_path / "un"
    for split in ("train", "test"):
        for i in range(n_a):
            write_rgb(root / f"{split}A" / f"{i:03d}.png", 20, 20, seed=i)
        for i in range(n_b):
            write_rgb(root / f"{split}B" / f"{i:03d}.png", 20, 20, seed=100 + i)
    return root


def _labels_root(tmp_path: Path, n: int = 2, size: int = 24, inst: bool = True, label_mode: str = "L") -> Path:
    root = tmp_path / "lab"
    for i in range(n):
        ids = torch.zeros(size, size, dtype=torch.int32)
        ids[4:14, 3:12] = 7
        ids[10:20, 12:22] = 26
        write_ids(root / "train_label" / f"{i}_gtFine_labelIds.png", ids, label_mode)
        if inst:
            inst_ids = ids.clone()
            inst_ids[ids == 26] = 26001  # a "thing": class * 1000 + k, above 8 bits
            write_ids(root / "train_inst" / f"{i}_gtFine_instanceIds.png", inst_ids, "I;16")
        write_rgb(root / "train_img" / f"{i}_leftImg8bit.png", size, size, seed=i)
    return root


def test_plugin_registers_readers() -> None:
    engine = Engine(autoload=False, warn=False)
    engine.register(plugin, name="datasets")
    reg = engine.registries.datasets
    for name in ("aligned", "unaligned", "single", "labels", "cityscapes"):
        assert name in reg
    assert reg.get("cityscapes") is build_labels


# --- aligned --------------------------------------------------------------------------


def test_aligned_items(tmp_path: Path) -> None:
    root = _aligned_root(tmp_path)
    ds = build_aligned(cfg(root=str(root)), "train")
    assert len(ds) == 3 and ds.seeded_items
    item = ds[(1, 42)]
    assert item["A"].shape == item["B"].shape == (3, 16, 16)
    assert item["A"].dtype == torch.float32
    assert -1 <= float(item["A"].min()) and float(item["A"].max()) <= 1
    assert item["A_path"] == item["B_path"] == str(root / "train" / "001.png")
    assert set(ds[0]) == {"A", "B", "A_path", "B_path"}  # plain int keys work too


def test_aligned_same_crop_and_flip_for_both_halves(tmp_path: Path) -> None:
    ds = build_aligned(cfg(root=str(_aligned_root(tmp_path, same=True))), "train")
    outs = [ds[(0, s)] for s in range(8)]
    for item in outs:
        assert torch.equal(item["A"], item["B"])
    assert len({tuple(o["A"][0, 0, :4].tolist()) for o in outs}) > 1  # the draws did vary


def test_aligned_key_determinism(tmp_path: Path) -> None:
    ds = build_aligned(cfg(root=str(_aligned_root(tmp_path))), "train")
    a, b = ds[(2, 7)], ds[(2, 7)]
    assert torch.equal(a["A"], b["A"]) and torch.equal(a["B"], b["B"])
    assert any(not torch.equal(a["A"], ds[(2, s)]["A"]) for s in range(8, 16))


def test_aligned_test_split_is_centred_and_fixed(tmp_path: Path) -> None:
    ds = build_aligned(cfg(root=str(_aligned_root(tmp_path))), "test")
    assert all(torch.equal(ds[(0, 1)]["A"], ds[(0, s)]["A"]) for s in range(2, 6))
    assert torch.equal(ds[0]["A"], ds[(0, 3)]["A"])


def test_aligned_btoa_swaps(tmp_path: Path) -> None:
    root = _aligned_root(tmp_path)
    ab = build_aligned(cfg(root=str(root)), "train")[(0, 5)]
    ba = build_aligned(cfg(root=str(root), direction="BtoA"), "train")[(0, 5)]
    assert torch.equal(ab["A"], ba["B"]) and torch.equal(ab["B"], ba["A"])


def test_aligned_odd_width(tmp_path: Path) -> None:
    write_rgb(tmp_path / "odd" / "train" / "bad.png", 33, 16, seed=0)
    ds = build_aligned(cfg(root=str(tmp_path / "odd")), "train")
    with pytest.raises(DataError, match=r"bad\.png has odd width 33"):
        ds[0]


def test_max_dataset_size_and_index_range(tmp_path: Path) -> None:
    ds = build_aligned(cfg(root=str(_aligned_root(tmp_path)), max_dataset_size=2), "train")
    assert len(ds) == 2
    with pytest.raises(IndexError):
        ds[(2, 0)]
    assert ds[-1]["A_path"].endswith("001.png")


def test_grayscale_and_size_multiple(tmp_path: Path) -> None:
    ds = build_aligned(cfg(root=str(_aligned_root(tmp_path, size=18)), preprocess="none"), "train")
    assert ds[0]["A"].shape == (3, 16, 16)  # 18 -> nearest multiple of 4 (round half to even)
    ds.size_multiple = 8
    assert ds[0]["A"].shape == (3, 16, 16)
    ds.grayscale = {"A"}
    item = ds[(0, 1)]
    assert item["A"].shape == (1, 16, 16) and item["B"].shape == (3, 16, 16)
    ds.grayscale = True
    assert ds[(0, 1)]["B"].shape[0] == 1


# --- unaligned ------------------------------------------------------------------------


def test_unaligned_items_and_length(tmp_path: Path) -> None:
    ds = build_unaligned(cfg(root=str(_unaligned_root(tmp_path))), "train")
    assert len(ds) == 5
    item = ds[(4, 3)]
    assert item["A_path"].endswith("trainA/001.png")  # A indexed modulo |A|
    assert item["A"].shape == item["B"].shape == (3, 16, 16)
    picks = {ds[(0, s)]["B_path"] for s in range(16)}
    assert len(picks) > 1  # random B per item
    assert ds[(0, 3)]["B_path"] == ds[(0, 3)]["B_path"]


def test_unaligned_serial_and_test_split_pair_by_index(tmp_path: Path) -> None:
    root = _unaligned_root(tmp_path)
    serial = build_unaligned(cfg(root=str(root), serial_batches=True), "train")
    assert [serial[(i, 9)]["B_path"][-7:] for i in range(5)] == [f"{i:03d}.png" for i in range(5)]
    test = build_unaligned(cfg(root=str(root)), "test")
    assert test[(3, 1)]["B_path"].endswith("testB/003.png")


def test_unaligned_btoa_swaps_folders(tmp_path: Path) -> None:
    ds = build_unaligned(cfg(root=str(_unaligned_root(tmp_path)), direction="BtoA"), "train")
    assert ds[0]["A_path"].split("/")[-2] == "trainB"


def test_unaligned_missing_domain(tmp_path: Path) -> None:
    write_rgb(tmp_path / "u" / "trainA" / "0.png", 16, 16, seed=0)
    with pytest.raises(DataError, match=r"trainB not found; expected the images of one domain"):
        build_unaligned(cfg(root=str(tmp_path / "u")), "train")


# --- single ---------------------------------------------------------------------------


def test_single_reads_split_folder_or_root(tmp_path: Path) -> None:
    write_rgb(tmp_path / "s" / "test" / "x.png", 16, 16, seed=0)
    ds = build_single(cfg(root=str(tmp_path / "s")), "test")
    assert len(ds) == 1 and set(ds[0]) == {"A", "A_path"}
    write_rgb(tmp_path / "flat" / "y.jpg", 16, 16, seed=1)
    assert build_single(cfg(root=str(tmp_path / "flat")), "test")[0]["A_path"].endswith("y.jpg")


# --- labels ---------------------------------------------------------------------------


def test_labels_items(tmp_path: Path) -> None:
    ds = build_labels(cfg(root=str(_labels_root(tmp_path)), load_size=32), "train")
    item = ds[(0, 11)]
    assert item["label"].shape == item["inst"].shape == (1, 16, 16)
    assert item["image"].shape == (3, 16, 16)
    assert set(item["label"].unique().tolist()) <= {0.0, 7.0, 26.0}  # NEAREST keeps raw ids
    assert set(item["inst"].unique().tolist()) <= {0.0, 7.0, 26001.0}
    # instance and label maps went through the same crop/flip
    assert torch.equal(item["inst"] == 26001, item["label"] == 26)
    assert {"label_path", "inst_path", "image_path"} <= set(item)


def test_labels_palette_label_and_no_instances(tmp_path: Path) -> None:
    root = _labels_root(tmp_path, inst=False, label_mode="P")
    ds = build_labels(cfg(root=str(root), dataset="cityscapes"), "train")
    item = ds[0]
    assert "inst" not in item
    assert set(item["label"].unique().tolist()) <= {0.0, 7.0, 26.0}


def test_labels_rgb_label_is_normalised(tmp_path: Path) -> None:
    root = tmp_path / "rgb"
    write_rgb(root / "train_label" / "0.png", 20, 20, seed=1)
    write_rgb(root / "train_img" / "0.png", 20, 20, seed=2)
    label = build_labels(cfg(root=str(root)), "train")[0]["label"]
    assert label.shape == (3, 16, 16) and float(label.min()) >= -1 and float(label.max()) <= 1


def test_labels_instance_size_mismatch(tmp_path: Path) -> None:
    root = _labels_root(tmp_path, n=1)
    write_ids(root / "train_inst" / "0_gtFine_instanceIds.png", torch.zeros(20, 24, dtype=torch.int32), "I;16")
    with pytest.raises(DataError, match=r"instance map .*0_gtFine_instanceIds\.png is 24x20 but label map "
                                        r".*0_gtFine_labelIds\.png is 24x24"):
        build_labels(cfg(root=str(root)), "train")[0]


def test_labels_count_mismatch(tmp_path: Path) -> None:
    root = _labels_root(tmp_path, n=2)
    (root / "train_img" / "1_leftImg8bit.png").unlink()
    with pytest.raises(DataError, match=r"train_img holds 1 images but .*train_label holds 2"):
        build_labels(cfg(root=str(root)), "train")


# --- bad inputs -----------------------------------------------------------------------


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    (tmp_path / "d" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match=r"d/train holds no images .*expected A\|B image pairs"):
        build_aligned(cfg(root=str(tmp_path / "d")), "train")
    with pytest.raises(DataError, match=r"d/test not found; expected A\|B image pairs"):
        build_aligned(cfg(root=str(tmp_path / "d")), "test")
    with pytest.raises(DataError, match=r"data\.root .*nowhere is not an existing folder"):
        build_aligned(cfg(root=str(tmp_path / "nowhere")), "train")
    with pytest.raises(DataError, match=r"train_label not found; expected label maps"):
        build_labels(cfg(root=str(tmp_path / "d")), "train")


def test_truncated_and_garbage_images(tmp_path: Path) -> None:
    root = _aligned_root(tmp_path, n=2)
    good = (root / "train" / "000.png").read_bytes()
    (root / "train" / "000.png").write_bytes(good[: len(good) // 2])
    (root / "train" / "001.png").write_bytes(b"not a png at all")
    ds = build_aligned(cfg(root=str(root)), "train")
    with pytest.raises(DataError, match=r"cannot read image .*000\.png"):
        ds[0]
    with pytest.raises(DataError, match=r"cannot read image .*001\.png"):
        ds[1]


def test_bad_label_mode(tmp_path: Path) -> None:
    root = _labels_root(tmp_path, n=1, inst=False)
    Image.new("LA", (24, 24)).save(root / "train_label" / "0_gtFine_labelIds.png")
    with pytest.raises(DataError, match=r"label map .* has mode LA; expected a single-channel image"):
        build_labels(cfg(root=str(root)), "train")[0]


def test_root_and_synthetic_unset() -> None:
    with pytest.raises(DataError, match=r"data\.root is not set"):
        build_aligned(cfg(), "train")


def test_synthetic_spec_errors(cache: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.synthetic\.size: .*greater than or equal to 8"):
        build_aligned(cfg(synthetic={"size": 4}), "train")
    with pytest.raises(ConfigError, match=r"data\.synthetic\.bogus: unknown field"):
        build_aligned(cfg(synthetic={"bogus": 1}), "train")
    with pytest.raises(ConfigError, match=r"data\.synthetic\.layout: the aligned reader reads the 'aligned' layout"):
        build_aligned(cfg(synthetic={"layout": "labels"}), "train")
    assert not cache.exists()


def test_synthetic_root_for_every_reader(cache: Path) -> None:
    spec = {"n": 2, "n_test": 1, "size": 16, "seed": 3}
    c = cfg(synthetic=spec, load_size=16, crop_size=16)
    assert build_aligned(c, "train")[(0, 1)]["A"].shape == (3, 16, 16)
    assert len(build_aligned(c, "test")) == 1
    assert build_unaligned(c, "train")[(1, 1)]["B"].shape == (3, 16, 16)
    assert build_single(c, "test")[0]["A_path"].split("/")[-2] == "testA"
    lab = build_labels(c, "train")[(0, 2)]
    assert lab["label"].shape == lab["inst"].shape == (1, 16, 16)
    assert sorted(p.name.split("-")[0] for p in (cache / "synthetic").iterdir()) == ["aligned", "labels", "unaligned"]


def test_labels_photos_optional_outside_training(tmp_path):
    from PIL import Image

    from i2i_core import DataConfig
    from i2i_datasets.readers import build_labels

    (tmp_path / "test_label").mkdir()
    Image.new("L", (16, 16), 3).save(tmp_path / "test_label" / "a.png")
    cfg = DataConfig(dataset="labels", root=str(tmp_path), preprocess="none", load_size=16, crop_size=16)
    item = build_labels(cfg, "test")[0]
    assert "image" not in item and item["label"].shape == (1, 16, 16) and float(item["label"].max()) == 3.0
    import pytest

    from i2i_core import DataError

    (tmp_path / "train_label").mkdir()
    Image.new("L", (16, 16), 3).save(tmp_path / "train_label" / "a.png")
    with pytest.raises(DataError, match="train_img"):
        build_labels(cfg, "train")
