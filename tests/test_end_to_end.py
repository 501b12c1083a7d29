"""Core + datasets + pix2pix through the CLI: train, resume, translate, import, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from i2i_core import Engine
from i2i_core.cli import _add_plugin_commands, cli

TINY = ["--set", "model.netG=unet", "--set", "model.num_downs=5", "--set", "model.ngf=4", "--set", "model.ndf=4",
        "--set", "data.load_size=32", "--set", "data.crop_size=32", "--set", "data.batch_size=2",
        "--set", 'data.synthetic={"layout": "aligned", "n": 6, "size": 32, "seed": 1, "n_test": 2}',
        "--set", "trainer.save_every=2", "--set", "trainer.sample_every=2"]


@pytest.fixture(scope="module")
def invoke():
    engine = Engine(warn=False)
    _add_plugin_commands(engine)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), obj={"engine": engine})


def test_train_resume_translate(invoke, tmp_path):
    out = tmp_path / "run"
    res = invoke("run", "pix2pix", "--preset", "demo", "--out", str(out), "--no-progress", *TINY,
                 "--set", "trainer.max_steps=2")
    assert res.exit_code == 0, res.output
    assert "PSNR" in res.output and (out / "index.html").is_file() and (out / "eval" / "heldout.png").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"psnr", "ssim", "baseline_psnr", "baseline_ssim"} <= set(metrics)

    res = invoke("run", "pix2pix", "--preset", "demo", "--out", str(out), "--no-progress", *TINY)
    assert res.exit_code == 1 and "already holds a run" in res.output

    res = invoke("run", "pix2pix", "--preset", "demo", "--out", str(out), "--resume", "auto", "--no-progress",
                 *TINY, "--set", "trainer.max_steps=4")
    assert res.exit_code == 0, res.output
    steps = [json.loads(x)["step"] for x in (out / "losses.jsonl").read_text().splitlines()]
    assert steps[-1] == 4

    images = tmp_path / "in"
    images.mkdir()
    from PIL import Image

    for name in ("x", "y"):
        Image.new("RGB", (40, 40), (10, 200, 30)).save(images / f"{name}.jpg")
    res = invoke("translate", "--checkpoint", str(out), "--input", str(images), "--output", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    outs = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert outs == ["x.png", "y.png"]
    assert Image.open(tmp_path / "o" / "x.png").size == (40, 40)  # native resolution: the input's own size


def test_import_junyanz_then_translate(invoke, tmp_path):
    engine = Engine(warn=False)  # a junyanz-style file, as a DataParallel-wrapped save would write it
    g = engine.registries.architectures.build("unet", input_nc=3, output_nc=3, num_downs=5, ngf=4, norm="batch")
    file = tmp_path / "latest_net_G.pth"
    torch.save({f"module.{k}": v for k, v in g.state_dict().items()}, file)
    res = invoke("import-checkpoint", "--from", "junyanz", "--arch", "unet", str(file), str(tmp_path / "imp"))
    assert res.exit_code == 0, res.output
    src = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (0, 0, 255)).save(src)
    res = invoke("translate", "--checkpoint", str(tmp_path / "imp"), "--input", str(src), "--output",
                 str(tmp_path / "o"), "--set", "data.crop_size=32")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "a.png").is_file()


@pytest.mark.parametrize("args,expected", [
    (("run", "pix2pix", "--preset", "facades", "--data", "/nonexistent/facades"), "data.root /nonexistent/facades"),
    (("run", "pix2pix", "--preset", "facadez"), "Did you mean: facades"),
    (("run", "pix2pix", "--set", "model.netG=unet_265"), "unet_256"),
    (("run", "pix2pix", "--set", "data.crop_size=128", "--set", "data.load_size=143"), "crop_size"),
    (("run", "pix2pix", "--precision", "fp16", "--device", "cpu"), "fp16"),
    (("translate", "--checkpoint", "README.md", "--input", "x", "--output", "y"), "README.md"),
])
def test_bad_input_is_one_line(invoke, args, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1] if "README.md" in args else tmp_path)
    res = invoke(*args)
    assert res.exit_code != 0
    assert expected in res.output, res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.safetensors"))


def test_pix2pixhd_512p_on_cityscapes_layout_then_translate(invoke, tmp_path):
    data = tmp_path / "city"
    assert invoke("data", "synth", "--layout", "labels", "--out", str(data), "--n", "3", "--size", "32",
                  "--seed", "0").exit_code == 0
    small = ["--set", "model.ngf=4", "--set", "model.ndf=4", "--set", "data.load_size=32", "--set", "data.crop_size=32",
             "--set", "model.n_downsample_global=2", "--set", "model.n_blocks_global=1",
             "--set", "model.no_vgg_loss=true", "--set", "trainer.max_steps=2"]
    res = invoke("run", "pix2pixhd", "--preset", "512p", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--no-progress", *small)
    assert res.exit_code == 0, res.output
    res = invoke("translate", "--checkpoint", str(tmp_path / "run"), "--input", str(data), "--output",
                 str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "out").glob("*.png"))) >= 1
    res = invoke("run", "pix2pixhd", "--preset", "1024p", "--data", str(data))
    assert res.exit_code == 1 and "--init-from" in res.output
