"""Plugin loading: registration per impl, broken plugins, env switches, check_pending."""

from __future__ import annotations

import importlib.metadata as md
import types

import pluggy
import pytest

from i2i_core import Engine, hookimpl
from toy import ToyPlugin


def test_temporary_plugin_registers_with_provider():
    engine = Engine(autoload=False, warn=False)
    engine.register(ToyPlugin(), name="toy_plugin")
    regs = engine.registries
    assert regs.recipes.entry("toy").plugin == "toy_plugin"
    assert regs.architectures.entry("toy_g").meta["role"] == "generator"
    assert regs.presets.lookup("toy", "small").obj["model"] == {"width": 2}
    assert regs.optimizers.entry("adam").plugin == "i2i_core.recipe.defaults"


def test_duplicate_across_plugins_names_both():
    class A:
        @hookimpl
        def register_losses(self, register):
            register("same", object)

    engine = Engine([A()], autoload=False, warn=False)
    engine.register(A(), name="second_plugin")
    with pytest.raises(Exception, match="registered twice"):
        engine.registries  # noqa: B018


def test_raising_registration_is_recorded_and_others_survive():
    class Broken:
        @hookimpl
        def register_recipes(self, register):
            raise RuntimeError("boom")

    engine = Engine([Broken(), ToyPlugin()], autoload=False, warn=False)
    assert "toy" in engine.registries.recipes
    assert any("boom" in str(e) for _, _, e in engine.registries.errors)


def test_unknown_hookimpl_is_rejected():
    class Typo:
        @hookimpl
        def register_architecture(self, register):  # missing "s"
            pass

    with pytest.raises(pluggy.PluginValidationError):
        Engine([Typo()], autoload=False, warn=False)


class _FakeEP:
    def __init__(self, name, target, dist="i2i-fake", version="9.9"):
        self.name, self._target = name, target
        self.dist = types.SimpleNamespace(name=dist, version=version)

    def load(self):
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def _fake_entry_points(monkeypatch, eps):
    monkeypatch.setattr(md, "entry_points", lambda group=None: eps if group == "i2i" else [])


def test_broken_entry_point_reported_with_dist_and_version(monkeypatch, capsys):
    good = types.ModuleType("good_plugin")
    good.register_recipes = hookimpl(lambda register: register("toy", __import__("toy").ToyRecipe))
    _fake_entry_points(monkeypatch, [_FakeEP("bad", ImportError("no module named zzz")), _FakeEP("good", good)])
    engine = Engine(warn=True)
    err = capsys.readouterr().err
    assert "i2i-fake 9.9 (bad) failed to load" in err and "I2I_DISABLE_PLUGINS=bad" in err
    assert engine.broken[0].name == "bad" and "zzz" in engine.broken[0].error
    assert engine.loaded["good"] == ("i2i-fake", "9.9")


def test_env_allow_and_deny_lists(monkeypatch):
    m1, m2 = types.ModuleType("p1"), types.ModuleType("p2")
    _fake_entry_points(monkeypatch, [_FakeEP("p1", m1), _FakeEP("p2", m2)])
    monkeypatch.setenv("I2I_DISABLE_PLUGINS", "p1")
    assert set(Engine(warn=False).loaded) == {"p2"}
    monkeypatch.delenv("I2I_DISABLE_PLUGINS")
    monkeypatch.setenv("I2I_LOAD_PLUGINS", "p1")
    assert set(Engine(warn=False).loaded) == {"p1"}


def test_strict_mode_reraises(monkeypatch):
    _fake_entry_points(monkeypatch, [_FakeEP("bad", ImportError("nope"))])
    monkeypatch.setenv("I2I_STRICT_PLUGINS", "1")
    with pytest.raises(ImportError):
        Engine(warn=False)


def test_tracing_prints_registration_calls(monkeypatch, capsys):
    _fake_entry_points(monkeypatch, [])
    monkeypatch.setenv("I2I_TRACE_PLUGINS", "1")
    Engine([ToyPlugin()], warn=False).registries  # noqa: B018
    err = capsys.readouterr().err
    assert "[i2i trace] register_recipes <- " in err
