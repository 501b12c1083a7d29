"""Shared fixtures of the cut plugin tests: one engine, tiny configs and batches."""

from __future__ import annotations

import pytest
import torch

from i2i_core import Engine

#: tiny networks: widths 4, 4 residual blocks, 8-wide netF, 16 patches per layer
TINY = {"netG": "resnet_4blocks", "ngf": 4, "ndf": 4, "netF_nc": 8, "num_patches": 16, "nce_layers": [0, 4, 8, 12]}


@pytest.fixture(autouse=True)
def _one_thread(i2i_one_thread):
    """Tiny tensors gain nothing from threads, and spinning workers starve on a busy 2-core box."""


@pytest.fixture(scope="session")
def engine(i2i_shared_engine: Engine) -> Engine:
    return i2i_shared_engine


@pytest.fixture()
def make_recipe(i2i_make_recipe):
    """``make_recipe(model=..., data=..., trainer=..., training=True, preset=None)`` -> a built recipe on the CPU."""

    def make(model: dict | None = None, data: dict | None = None, trainer: dict | None = None,
             training: bool = True, preset: str | None = None):
        return i2i_make_recipe("cut", model={**TINY, **(model or {})},
                               data={"load_size": 32, "crop_size": 32, **(data or {})}, trainer=trainer,
                               preset=preset, training=training)

    return make


def unpaired_batch(b: int = 1, size: int = 32, seed: int = 0, channels: tuple[int, int] = (3, 3)) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"A": torch.rand(b, channels[0], size, size, generator=g) * 2 - 1,
            "B": torch.rand(b, channels[1], size, size, generator=g) * 2 - 1,
            "A_path": [f"a{i}.png" for i in range(b)], "B_path": [f"b{i}.png" for i in range(b)]}


@pytest.fixture()
def batch():
    """``batch(b=1, size=32, seed=0, channels=(3, 3))`` -> an unpaired ``A``/``B`` batch in [-1, 1]."""
    return unpaired_batch
