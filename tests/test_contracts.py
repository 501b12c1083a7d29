"""Contracts: every hook documented with its exact signature; the public API is guarded."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import i2i_core
from i2i_core.registry import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _specs():
    return [(n, f) for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
            if getattr(f, "i2i_spec", None) is not None]


def test_every_hookspec_is_documented_with_its_signature():
    text = DOCS.read_text()
    specs = _specs()
    assert {"register_recipes", "before_train", "after_step", "on_log", "after_train"} <= {n for n, _ in specs}
    for name, fn in specs:
        assert f"def {name}{inspect.signature(fn)}" in text, f"docs/plugins.md lacks the signature of {name}"


def test_every_hookspec_has_a_contract_docstring():
    for name, fn in _specs():
        doc = inspect.getdoc(fn) or ""
        assert "Args:" in doc and len(doc) > 60, f"{name} needs a docstring that states its contract"


def test_core_never_imports_a_plugin():
    root = Path(i2i_core.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        for plugin in ("i2i_pix2pix", "i2i_pix2pixhd", "i2i_cyclegan", "i2i_datasets"):
            assert f"import {plugin}" not in text and f"from {plugin}" not in text, f"{path} imports {plugin}"


def test_the_trainer_relays_hooks_and_never_builds_an_engine(monkeypatch):
    import importlib.metadata as md

    from i2i_core import ConfigError, Recipe, Trainer, TrainerConfig
    from toy import toy_items

    def no_entry_points(*args, **kwargs):
        raise AssertionError("the trainer must not load plugins")

    monkeypatch.setattr(md, "entry_points", no_entry_points)
    trainer = Trainer(TrainerConfig(device="cpu", max_steps=1), progress=False)
    assert sorted(name for name, _ in trainer.pm.list_name_plugin()) == ["i2i_core.recipe.defaults", "i2i_core.training.progress"]
    assert trainer.pm.hook.after_step.spec is not None  # the hook specs are there for callbacks

    class Unbuilt(Recipe):
        name = "unbuilt"

    with pytest.raises(ConfigError, match="recipe 'unbuilt' has no networks: build it before fit") as err:
        trainer.fit(Unbuilt(), toy_items(2))
    assert "\n" not in str(err.value)
