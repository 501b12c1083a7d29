"""``data synth`` and ``data prepare-cityscapes`` through click's CliRunner on a bare group."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner
from datasets_helpers import cfg, write_ids, write_rgb

from i2i_datasets import plugin
from i2i_datasets.readers import build_labels


@pytest.fixture
def invoke():
    @click.group()
    def cli() -> None:
        """A stand-in for the ``i2i`` group."""

    plugin.register_commands(cli)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args])


def test_synth_writes_a_data_set(invoke, tmp_path: Path) -> None:
    out = tmp_path / "facades"
    res = invoke("data", "synth", "--layout", "aligned", "--out", out, "--n", 3, "--size", 16, "--seed", 4,
                 "--n-test", 1)
    assert res.exit_code == 0, res.output
    assert len(list((out / "train").iterdir())) == 3 and len(list((out / "test").iterdir())) == 1
    assert "data.root=" in res.output and (out / "synthetic.json").is_file()


def test_synth_refuses_non_empty_folder_unless_forced(invoke, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert invoke("data", "synth", "--layout", "labels", "--out", out, "--n", 2, "--size", 16).exit_code == 0
    (out / "notes.txt").write_text("keep me")
    res = invoke("data", "synth", "--layout", "labels", "--out", out, "--n", 1, "--size", 16)
    assert res.exit_code == 1 and "is not empty" in res.output and "--force" in res.output
    res = invoke("data", "synth", "--layout", "labels", "--out", out, "--n", 1, "--size", 16, "--force")
    assert res.exit_code == 0, res.output
    assert len(list((out / "train_label").iterdir())) == 1  # replaced, not added to
    assert (out / "notes.txt").read_text() == "keep me"  # foreign files are left alone


def test_synth_bad_option(invoke, tmp_path: Path) -> None:
    res = invoke("data", "synth", "--out", tmp_path / "x", "--size", 2, "--n-test", -1)
    assert res.exit_code == 1
    assert "--size: Input should be greater than or equal to 8" in res.output and "--n-test:" in res.output
    assert not (tmp_path / "x").exists()


def _fake_cityscapes(root: Path, cities: dict[str, int]) -> None:
    ids = torch.zeros(12, 24, dtype=torch.int32)
    ids[2:8, 3:10] = 26
    for split, n in cities.items():
        for i in range(n):
            stem = f"aachen_{i:06d}_000019"
            write_rgb(root / "leftImg8bit" / split / "aachen" / f"{stem}_leftImg8bit.png", 24, 12, seed=i)
            write_ids(root / "gtFine" / split / "aachen" / f"{stem}_gtFine_labelIds.png", ids)
            inst = ids.clone()
            inst[ids == 26] = 26000 + i
            write_ids(root / "gtFine" / split / "aachen" / f"{stem}_gtFine_instanceIds.png", inst, "I;16")
            (root / "gtFine" / split / "aachen" / f"{stem}_gtFine_polygons.json").write_text("{}")


def test_prepare_cityscapes(invoke, tmp_path: Path) -> None:
    src, out = tmp_path / "cs", tmp_path / "out"
    _fake_cityscapes(src, {"train": 2, "val": 1})
    res = invoke("data", "prepare-cityscapes", src, out)
    assert res.exit_code == 0, res.output
    for folder, n in (("train_label", 2), ("train_inst", 2), ("train_img", 2), ("test_label", 1),
                      ("test_inst", 1), ("test_img", 1)):
        assert len(list((out / folder).iterdir())) == n, folder
    linked = out / "train_img" / "aachen_000000_000019_leftImg8bit.png"
    assert linked.stat().st_nlink == 2  # hard link, not a copy
    item = build_labels(cfg(root=str(out), dataset="cityscapes", preprocess="none"), "train")[1]
    assert item["label"].shape == (1, 12, 24) and float(item["inst"].max()) == 26001.0
    # again without --force: refuses; with --copy --force: copies
    assert invoke("data", "prepare-cityscapes", src, out).exit_code == 1
    res = invoke("data", "prepare-cityscapes", src, out, "--copy", "--force")
    assert res.exit_code == 0 and linked.stat().st_nlink == 1


def test_prepare_cityscapes_errors(invoke, tmp_path: Path) -> None:
    src = tmp_path / "cs"
    (src / "gtFine").mkdir(parents=True)
    res = invoke("data", "prepare-cityscapes", src, tmp_path / "out")
    assert res.exit_code == 1 and "leftImg8bit not found" in res.output
    _fake_cityscapes(src, {"train": 2, "val": 1})
    (src / "gtFine" / "val" / "aachen" / "aachen_000000_000019_gtFine_instanceIds.png").unlink()
    res = invoke("data", "prepare-cityscapes", src, tmp_path / "out")
    assert res.exit_code == 1 and "no instance map aachen_000000_000019_gtFine_instanceIds.png" in res.output
    assert not (tmp_path / "out").exists()
