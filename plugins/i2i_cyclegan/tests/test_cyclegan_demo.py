"""The ``demo`` preset as shipped (``i2i run cyclegan --preset demo``) does what its description promises."""

from __future__ import annotations

import json
import os

import pytest
import torch

from i2i_core import Engine


@pytest.mark.slow  # the full preset: 600 steps, about 4 minutes on 2 cores
def test_demo_preset_beats_the_identity_baseline(tmp_path):
    torch.set_num_threads(os.cpu_count() or 1)  # conftest pins one thread for the tiny tests; it restores it
    Engine(warn=False).run("cyclegan", "demo", out=str(tmp_path / "run"), progress=False)
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # README, seed 0: 15.70 dB / 0.504 against the input's 12.53 / 0.447
    assert scores["psnr"] > scores["baseline_psnr"] + 2 and scores["ssim"] > scores["baseline_ssim"]
    for direction in ("AtoB", "BtoA"):  # each direction, not only their mean, on PSNR
        assert scores[f"psnr_{direction}"] > scores[f"baseline_psnr_{direction}"] + 1
