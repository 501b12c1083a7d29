"""The ``demo`` preset as shipped (``i2i run cut --preset demo``) does what its description promises."""

from __future__ import annotations

import json

import pytest
import torch

from i2i_core import Engine


@pytest.mark.slow  # the full preset: 600 steps, several minutes on 2 cores
def test_demo_preset_beats_the_identity_baseline(tmp_path):
    torch.set_num_threads(1)  # what docs/cut.md measured; conftest restores the count afterwards
    Engine(warn=False).run("cut", "demo", out=str(tmp_path / "run"), progress=False)
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # docs/cut.md, seed 0: 14.96 dB / 0.451 against the input's 12.53 / 0.447
    assert scores["psnr"] > scores["baseline_psnr"] + 1 and scores["ssim"] > scores["baseline_ssim"]
