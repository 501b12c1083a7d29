"""End to end at another depth: train pix2pix on 5-channel float TIFF pairs, then translate them back to float TIFF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from i2i_core import Engine
from i2i_core.inference.translator import Translator
from i2i_core.io import images as imageio

tifffile = pytest.importorskip("tifffile")


def test_five_channel_float_tiffs_train_and_translate(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        (tmp_path / "data" / split).mkdir(parents=True)
        for i in range(2):
            a = rng.random((32, 32, 5), dtype=np.float32)
            pair = np.concatenate([a, 1 - a], axis=1)  # A | B side by side, B = 1 - A
            tifffile.imwrite(tmp_path / "data" / split / f"{i}.tif", pair, photometric="minisblack",
                             planarconfig="contig")
    engine = Engine(warn=False)
    overrides = ["model.netG=resnet", "model.n_blocks=1", "model.ngf=4", "model.ndf=4", "model.input_nc=5",
                 "model.output_nc=5", "data.preprocess=none", "data.crop_size=32", "data.load_size=32",
                 "data.value_range=[0,1]", f"data.root={tmp_path / 'data'}", "trainer.max_steps=2",
                 "trainer.evaluate=false", "trainer.sample_every=100", "model.eval_mode=true"]
    result = engine.run("pix2pix", overrides=overrides, out=str(tmp_path / "run"), progress=False)
    translator = Translator.from_run(result.run_dir, device="cpu", engine=engine)
    a = tmp_path / "a.tif"
    tifffile.imwrite(a, rng.random((24, 40, 5), dtype=np.float32), photometric="minisblack", planarconfig="contig")
    written = translator.folder([a], tmp_path / "out")
    out = imageio.read_image(written[0])
    assert written[0].name == "a.tif" and out.depth == "float32" and out.data.shape == (5, 24, 40)
    assert 0 <= float(out.data.min()) and float(out.data.max()) <= 1  # mapped back into data.value_range
