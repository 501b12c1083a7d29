"""Shared fixtures of the cyclegan plugin tests: one engine, tiny configs and batches."""

from __future__ import annotations

import pytest
import torch

from i2i_core import Engine

#: tiny junyanz networks (widths 4, 6 blocks) and tiny book networks (widths 64/16 = 4, 1 block)
TINY_JUNYANZ = {"variant": "junyanz", "netG": "resnet_6blocks", "ngf": 4, "ndf": 4}
TINY_BOOK = {"variant": "book", "num_blocks": 1, "width_div": 16}


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny tensors gain nothing from threads, and spinning workers starve on a busy 2-core box
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(warn=False)


@pytest.fixture()
def make_recipe(engine: Engine):
    """``make_recipe(model=..., data=..., trainer=..., training=True)`` -> a built recipe on the CPU."""

    def make(model: dict | None = None, data: dict | None = None, trainer: dict | None = None,
             training: bool = True, preset: str | None = None):
        base = dict(TINY_BOOK if (model or {}).get("variant") == "book" else TINY_JUNYANZ)
        size = {"load_size": 32, "crop_size": 32} if base["variant"] == "junyanz" else {}
        overrides = {"model": {**base, **(model or {})}, "data": {**size, **(data or {})},
                     "trainer": {"device": "cpu", **(trainer or {})}}
        run = engine.resolve_config("cyclegan", preset, overrides=overrides)
        return engine.build_recipe(run, device="cpu", training=training)

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
