"""`i2i translate`: native size, --resize, every depth in and out, tiling, name clashes and one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from translate_helpers import make_run

from i2i_core import Engine
from i2i_core.cli import cli
from i2i_core.io import images as imageio

tifffile = pytest.importorskip("tifffile")

RESNET = ["model.netG=resnet", "model.n_blocks=1", "model.ngf=8", "data.crop_size=64", "data.load_size=64",
          "model.eval_mode=true"]


@pytest.fixture(scope="module")
def runs(i2i_shared_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "rgb": make_run(i2i_shared_engine, root / "rgb", "pix2pix", RESNET),
        "five": make_run(i2i_shared_engine, root / "five", "pix2pix",
                         [*RESNET, "model.input_nc=5", "model.output_nc=5"]),
        "hd": make_run(i2i_shared_engine, root / "hd", "pix2pixhd", [
            "model.netG=global", "model.ngf=4", "model.n_downsample_global=2", "model.n_blocks_global=1",
            "model.label_nc=8", "model.no_vgg_loss=true", "data.crop_size=32", "data.load_size=32"]),
    }


def _invoke(engine: Engine, *args: str):
    return CliRunner().invoke(cli, ["translate", *args], obj={"engine": engine}, catch_exceptions=False)


def _rgb(path: Path, w: int, h: int, seed: int = 0, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, len(mode)), dtype=np.uint8), mode=None).convert(mode).save(path)
    return path


def test_output_has_the_input_size_not_the_training_size(i2i_shared_engine, runs, tmp_path: Path) -> None:
    _rgb(tmp_path / "in" / "photo.png", 256, 192)
    result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "in"),
                     "--output", str(tmp_path / "out"), "--no-progress")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "photo.png").size == (256, 192)
    assert "images/s" in result.output


def test_resize_keeps_the_old_behaviour_on_request(i2i_shared_engine, runs, tmp_path: Path) -> None:
    _rgb(tmp_path / "in" / "photo.png", 256, 192)
    for flag, size in (("train", (64, 64)), ("48x32", (48, 32))):
        out = tmp_path / flag
        result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "in"),
                         "--output", str(out), "--resize", flag)
        assert result.exit_code == 0, result.output
        assert Image.open(out / "photo.png").size == size


def test_large_input_gets_a_note(i2i_shared_engine, runs, tmp_path: Path) -> None:
    _rgb(tmp_path / "big.png", 300, 260)
    result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "big.png"),
                     "--output", str(tmp_path / "out"))
    assert result.exit_code == 0 and "note:" in result.output and "training crop" in result.output


@pytest.mark.parametrize(("overrides", "noted"), [
    (["model.eval_mode=false", "model.norm=batch", "data.batch_size=4"], True),
    (["model.eval_mode=false", "model.norm=batch", "data.batch_size=1"], False),  # trained per image, too
    (["model.eval_mode=true", "model.norm=batch", "data.batch_size=4"], False),  # running statistics
    (["model.eval_mode=false", "model.norm=instance", "data.batch_size=4"], False),  # per image by design
])
def test_batchnorm_trained_at_batch_above_one_in_train_mode_gets_a_note(i2i_shared_engine, tmp_path: Path, overrides,
                                                                        noted) -> None:
    run = make_run(i2i_shared_engine, tmp_path / "run", "pix2pix", [*RESNET, *overrides])
    _rgb(tmp_path / "in" / "a.png", 64, 64)
    _rgb(tmp_path / "in" / "b.png", 64, 64, seed=1)
    result = _invoke(i2i_shared_engine, "--checkpoint", str(run), "--input", str(tmp_path / "in"), "--output",
                     str(tmp_path / "out"), "--no-progress")
    assert result.exit_code == 0, result.output
    assert ("model.eval_mode=true uses the running statistics" in result.output) is noted
    assert result.output.count("note:") == int(noted)  # once per command, not once per image


def test_sixteen_bit_in_sixteen_bit_out(i2i_shared_engine, runs, tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 40 * 48).astype(np.uint16).reshape(40, 48)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "g16.png"),
                     "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    out = imageio.read_image(tmp_path / "out" / "g16.png")
    assert out.depth == "uint16" and out.data.shape == (3, 40, 48)
    assert len(torch.unique(out.data.int())) > 256  # more levels than 8 bits could hold


def test_float_tiff_needs_a_value_range_and_comes_back_as_float(i2i_shared_engine, runs, tmp_path: Path) -> None:
    values = np.random.default_rng(0).random((3, 32, 40), dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", values.transpose(1, 2, 0), photometric="rgb")
    args = ["--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "f.tif"), "--output", str(tmp_path / "out")]
    result = _invoke(i2i_shared_engine, *args)
    assert result.exit_code == 1 and "data.value_range" in result.output and "f.tif" in result.output
    assert "Traceback" not in result.output
    result = _invoke(i2i_shared_engine, *args, "--value-range", "0", "1")
    assert result.exit_code == 0, result.output
    out = imageio.read_image(tmp_path / "out" / "f.tif")
    assert out.depth == "float32" and out.data.shape == (3, 32, 40)
    assert 0 <= float(out.data.min()) and float(out.data.max()) <= 1


def test_five_channel_tiff_end_to_end(i2i_shared_engine, runs, tmp_path: Path) -> None:
    bands = np.random.default_rng(1).integers(0, 65535, (36, 44, 5), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "ms.tif", bands, photometric="minisblack", planarconfig="contig")
    result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["five"]), "--input", str(tmp_path / "ms.tif"),
                     "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    out = imageio.read_image(tmp_path / "out" / "ms.tif")
    assert out.depth == "uint16" and out.data.shape == (5, 36, 44)


def test_rgba_into_a_three_channel_model_is_one_line_naming_the_fix(i2i_shared_engine, runs, tmp_path: Path) -> None:
    _rgb(tmp_path / "in" / "logo.png", 32, 32, mode="RGBA")
    result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "in"),
                     "--output", str(tmp_path / "out"))
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert "logo.png" in line and "RGBA" in line and "model.input_nc" in line and "alpha" in line


def test_inputs_sharing_a_stem_keep_both_outputs(i2i_shared_engine, runs, tmp_path: Path) -> None:
    _rgb(tmp_path / "in" / "a.png", 32, 32, seed=1)
    _rgb(tmp_path / "in" / "a.jpg", 32, 32, seed=2)
    result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "in"),
                     "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg.png", "a.png"]


def test_unwritable_output_is_one_line_naming_it(i2i_shared_engine, runs, tmp_path: Path) -> None:
    _rgb(tmp_path / "a.png", 32, 32)
    (tmp_path / "file").write_text("not a folder")
    result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "a.png"),
                     "--output", str(tmp_path / "file" / "out"))
    assert result.exit_code == 1 and f"--output {tmp_path / 'file' / 'out'}" in result.output
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "a.png"),
                         "--output", str(ro))
        assert result.exit_code == 1 and "not writable" in result.output and str(ro) in result.output


def test_tiled_translate_equals_one_pass(i2i_shared_engine, runs, tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 3 * 200 * 136).astype(np.uint16).reshape(200, 136, 3)
    imageio.write_png16(ramp, tmp_path / "in.png")
    base = ["--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "in.png")]
    assert _invoke(i2i_shared_engine, *base, "--output", str(tmp_path / "one")).exit_code == 0
    result = _invoke(i2i_shared_engine, *base, "--output", str(tmp_path / "tiled"), "--tile", "96", "--overlap", "64")
    assert result.exit_code == 0, result.output
    one, tiled = (imageio.read_image(tmp_path / d / "in.png").data.int() for d in ("one", "tiled"))
    assert (one - tiled).abs().max() <= 1  # 16-bit rounding of values equal to 1e-5


def test_pix2pixhd_label_and_instance_maps_tile_together(i2i_shared_engine, runs, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.repeat(rng.integers(0, 8, (9, 7)), 16, 0), 16, 1).astype(np.uint8)[:140, :100]
    inst = np.repeat(np.repeat(rng.integers(0, 5, (9, 7)), 16, 0), 16, 1).astype(np.uint16)[:140, :100]
    for d in ("test_label", "test_inst"):
        (tmp_path / "data" / d).mkdir(parents=True)
    Image.fromarray(labels).save(tmp_path / "data" / "test_label" / "x.png")
    Image.fromarray(inst).save(tmp_path / "data" / "test_inst" / "x.png")
    base = ["--checkpoint", str(runs["hd"]), "--input", str(tmp_path / "data")]
    assert _invoke(i2i_shared_engine, *base, "--output", str(tmp_path / "one")).exit_code == 0
    result = _invoke(i2i_shared_engine, *base, "--output", str(tmp_path / "tiled"), "--tile", "96", "--overlap", "64")
    assert result.exit_code == 0, result.output
    one, tiled = (np.asarray(Image.open(tmp_path / d / "x.png")).astype(int) for d in ("one", "tiled"))
    assert one.shape == (140, 100, 3)
    assert np.abs(one - tiled).max() <= 1


def test_bad_tile_and_resize_values_are_one_line(i2i_shared_engine, runs, tmp_path: Path) -> None:
    _rgb(tmp_path / "a.png", 32, 32)
    base = ["--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "a.png"), "--output", str(tmp_path / "o")]
    for extra, expected in ((["--resize", "big"], "--resize"), (["--tile", "auto"], "--max-memory"),
                            (["--tile", "lots"], "--tile")):
        result = _invoke(i2i_shared_engine, *base, *extra)
        assert result.exit_code != 0 and expected in result.output and "Traceback" not in result.output


def test_auto_tile_under_a_memory_budget(i2i_shared_engine, runs, tmp_path: Path) -> None:
    _rgb(tmp_path / "a.png", 200, 136)
    base = ["--checkpoint", str(runs["rgb"]), "--input", str(tmp_path / "a.png")]
    assert _invoke(i2i_shared_engine, *base, "--output", str(tmp_path / "one")).exit_code == 0
    result = _invoke(i2i_shared_engine, *base, "--output", str(tmp_path / "auto"), "--tile", "auto",
                     "--max-memory", "8MiB")
    assert result.exit_code == 0, result.output
    one, auto = (np.asarray(Image.open(tmp_path / d / "a.png")).astype(int) for d in ("one", "auto"))
    assert one.shape == auto.shape == (136, 200, 3)
    assert np.abs(one - auto).max() <= 1


def test_resize_moves_label_and_instance_maps_together(i2i_shared_engine, runs, tmp_path: Path) -> None:
    labels = np.zeros((40, 56), np.uint8)
    labels[10:30, 5:40] = 3
    for d in ("test_label", "test_inst"):
        (tmp_path / "data" / d).mkdir(parents=True)
    Image.fromarray(labels).save(tmp_path / "data" / "test_label" / "x.png")
    Image.fromarray(labels.astype(np.uint16) * 1000).save(tmp_path / "data" / "test_inst" / "x.png")
    result = _invoke(i2i_shared_engine, "--checkpoint", str(runs["hd"]), "--input", str(tmp_path / "data"), "--output",
                     str(tmp_path / "out"), "--resize", "32x24")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "x.png").size == (32, 24)
