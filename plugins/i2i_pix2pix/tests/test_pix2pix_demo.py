"""The ``demo`` preset as shipped (``i2i run pix2pix --preset demo``) does what its description promises."""

from __future__ import annotations

import json

import pytest

from i2i_core import Engine


@pytest.mark.slow  # the full preset: 500 steps, about a minute on 2 idle cores
def test_demo_preset_beats_the_identity_baseline_on_both_metrics(tmp_path):
    Engine(warn=False).run("pix2pix", "demo", out=str(tmp_path / "run"), progress=False)
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert scores["psnr"] > scores["baseline_psnr"] + 6  # README: 19.7 dB against the input's 9.2
    assert scores["ssim"] > scores["baseline_ssim"] + 0.15  # README: 0.64 against 0.40


def test_demo_preset_normalises_each_image_by_itself():
    """Trained at batch 4 and translated one image at a time: batch norm would normalise held-out images with
    statistics it never trained with (README, "Learning on photographs": -2.8 dB on real photographs)."""
    cfg = Engine(warn=False).resolve_config("pix2pix", "demo")
    assert cfg.data.batch_size > 1 and cfg.model["norm"] == "instance"
