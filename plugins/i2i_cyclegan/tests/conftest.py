"""Shared fixtures of the cyclegan plugin tests: tiny configs and batches (the engine is ``i2i_shared_engine``)."""

from __future__ import annotations

import pytest
import torch

#: tiny junyanz networks (widths 4, 6 blocks) and tiny book networks (widths 64/16 = 4, 1 block)
TINY_JUNYANZ = {"variant": "junyanz", "netG": "resnet_6blocks", "ngf": 4, "ndf": 4}
TINY_BOOK = {"variant": "book", "num_blocks": 1, "width_div": 16}


@pytest.fixture(autouse=True)
def _one_thread(i2i_one_thread: None) -> None:
    """Every test here runs on one thread: tiny tensors, and a busy 2-core box (``i2i_core.testing``)."""


@pytest.fixture()
def make_recipe(i2i_make_recipe):
    """``make_recipe(model=..., data=..., trainer=..., training=True)`` -> a tiny CycleGAN built on the CPU."""

    def make(model: dict | None = None, data: dict | None = None, trainer: dict | None = None,
             training: bool = True, preset: str | None = None):
        base = dict(TINY_BOOK if (model or {}).get("variant") == "book" else TINY_JUNYANZ)
        size = {"load_size": 32, "crop_size": 32} if base["variant"] == "junyanz" else {}
        return i2i_make_recipe("cyclegan", model={**base, **(model or {})}, data={**size, **(data or {})},
                               trainer=trainer, preset=preset, training=training)

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
