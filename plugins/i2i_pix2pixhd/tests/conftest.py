"""Shared fixtures of the pix2pixhd plugin tests: one engine, tiny configs and batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
import torch

from i2i_core import Recipe

MANIFESTS = Path(__file__).resolve().parents[3] / "tests" / "reference" / "manifests"

TINY = {"label_nc": 4, "ngf": 4, "ndf": 4, "n_downsample_global": 2, "n_blocks_global": 1, "n_blocks_local": 1,
        "num_D": 2, "n_layers_D": 2, "nef": 4, "n_downsample_E": 2, "no_vgg_loss": True}


@pytest.fixture(autouse=True)
def _one_thread(i2i_one_thread: None) -> None:
    """Every test on one torch thread (spinning workers starve on a busy 2-core box)."""


@pytest.fixture()
def tiny() -> dict:
    """Tiny model options (widths 4, two downsamplings, VGG off)."""
    return dict(TINY)


@pytest.fixture()
def make_recipe(i2i_make_recipe: Callable[..., Recipe]) -> Callable[..., Recipe]:
    """``make_recipe(model=..., data=..., trainer=..., preset=None)`` -> a tiny pix2pixhd recipe built on the CPU."""

    def make(model: dict | None = None, data: dict | None = None, trainer: dict | None = None,
             preset: str | None = None, training: bool = True) -> Recipe:
        torch.manual_seed(0)
        data = {"load_size": 32, "crop_size": 32, **(data or {})}
        return i2i_make_recipe("pix2pixhd", {**TINY, **(model or {})}, data, trainer, preset, training)

    return make


def _label_batch(b: int = 2, size: int = 32, label_nc: int = 4, seed: int = 0) -> dict:
    """Blocky label and instance maps (instances 1000+ inside class 3) with an image in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, label_nc, (b, 1, size // 8, size // 8), generator=g).float()
    label = torch.nn.functional.interpolate(coarse, scale_factor=8, mode="nearest")
    inst = label.clone()
    inst[..., : size // 2, :][label[..., : size // 2, :] == 3] = 3001
    inst[..., size // 2 :, :][label[..., size // 2 :, :] == 3] = 3002
    image = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    return {"label": label, "inst": inst, "image": image, "label_path": [f"labels/{i}.png" for i in range(b)]}


@pytest.fixture()
def label_batch():
    """``label_batch(b=2, size=32, label_nc=4, seed=0)`` -> label/inst/image batch dict."""
    return _label_batch


@pytest.fixture(params=sorted(p.stem for p in MANIFESTS.glob("pix2pixhd_*.json")))
def manifest(request) -> dict:
    """Each pix2pixHD full-size manifest (state-dict layout + constructor config)."""
    return {"name": request.param, **json.loads((MANIFESTS / f"{request.param}.json").read_text())}
