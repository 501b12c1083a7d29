"""pytest plugin for i2i and its plugins' authors (installed as the ``i2i`` pytest11 entry point).

Fixtures:
    i2i_engine: a fresh :class:`Engine` with the installed plugins (``autoload=False`` variant:
        ``i2i_bare_engine``); register temporary plugins with ``i2i_engine.register(obj)``.
    i2i_shared_engine: one :class:`Engine` with the installed plugins for the whole session, for
        tests that only look things up and build recipes (register nothing on it).
    i2i_make_recipe: ``make(recipe, model=None, data=None, trainer=None, preset=None, training=True)
        -> Recipe`` resolved over the preset and built on the CPU by ``i2i_shared_engine``.
    i2i_one_thread: torch pinned to one thread for the test, restored after it (tiny tensors gain
        nothing from threads, and golden cases were made with one). A module takes it for all its
        tests with ``pytestmark = pytest.mark.usefixtures("i2i_one_thread")``, a folder with an
        autouse fixture in its ``conftest.py`` that requests it.
    tiny_dataset: ``make(layout="aligned"|"unaligned", n=4, size=32, root=None) -> Path`` writing
        small random images in the layouts the readers take.
    cpu_trainer: ``make(**trainer_fields) -> Trainer`` on CPU, fp32, no progress bar.
    i2i_cli: ``invoke(*args) -> click.testing.Result`` running the ``i2i`` CLI in-process.

Helpers:
    plugin_manager: a pluggy manager with i2i's hook specifications, to call a plugin's
        lifecycle hooks directly (``autoload=False``: the hook specs and nothing else).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pluggy
import pytest
import torch

from i2i_core.assembly.engine import Engine
from i2i_core.config.schema import TrainerConfig
from i2i_core.recipe.contract import Recipe


def plugin_manager(*, autoload: bool = False) -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]], list]:
    """``(manager, loaded entry points, broken plugins)``; ``autoload=False`` registers no plugin at all."""
    from i2i_core.registry.plugins import make_plugin_manager

    return make_plugin_manager(autoload=autoload, warn=False)


@pytest.fixture
def i2i_engine() -> Engine:
    return Engine(warn=False)


@pytest.fixture
def i2i_bare_engine() -> Engine:
    return Engine(autoload=False, warn=False)


@pytest.fixture(scope="session")
def i2i_shared_engine() -> Engine:
    # loading the plugins' entry points once, not per test, keeps tiny-recipe suites quick
    return Engine(warn=False)


@pytest.fixture
def i2i_make_recipe(i2i_shared_engine: Engine) -> Callable[..., Recipe]:
    def make(recipe: str, model: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
             trainer: dict[str, Any] | None = None, preset: str | None = None, training: bool = True) -> Recipe:
        overrides = {"model": model or {}, "data": data or {}, "trainer": {"device": "cpu", **(trainer or {})}}
        run = i2i_shared_engine.resolve_config(recipe, preset, overrides=overrides)
        return i2i_shared_engine.build_recipe(run, device="cpu", training=training)

    return make


@pytest.fixture
def i2i_one_thread() -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def write_random_image(path: Path, width: int, height: int, seed: int) -> Path:
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    arr = torch.randint(0, 256, (height, width, 3), generator=g, dtype=torch.uint8).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Callable[..., Path]:
    def make(layout: str = "aligned", n: int = 4, size: int = 32, root: Path | None = None) -> Path:
        root = root or tmp_path / f"data_{layout}"
        for split in ("train", "test"):
            for i in range(n):
                if layout == "aligned":
                    write_random_image(root / split / f"{i:03d}.png", 2 * size, size, seed=i)
                elif layout == "unaligned":
                    write_random_image(root / f"{split}A" / f"{i:03d}.png", size, size, seed=i)
                    write_random_image(root / f"{split}B" / f"{i:03d}.png", size, size, seed=100 + i)
                else:
                    raise ValueError(f"tiny_dataset: unknown layout {layout!r} (aligned or unaligned)")
        return root

    return make


@pytest.fixture
def cpu_trainer(i2i_engine: Engine) -> Callable[..., Any]:
    from i2i_core.training.trainer import Trainer

    def make(out_dir: Path | None = None, **fields: Any) -> Trainer:
        cfg = TrainerConfig(**{"device": "cpu", "precision": "fp32", "max_steps": 2, **fields})
        return Trainer(cfg, out_dir, engine=i2i_engine, progress=False)

    return make


@pytest.fixture
def i2i_cli(i2i_engine: Engine) -> Callable[..., Any]:
    from click.testing import CliRunner

    from i2i_core.cli import _add_plugin_commands, cli

    _add_plugin_commands(i2i_engine)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, list(args), obj={"engine": i2i_engine}, catch_exceptions=False)

    return invoke
