"""Config merging order, --set parsing and readable validation errors."""

from __future__ import annotations

import json

import pytest

from i2i_core import ConfigError, Engine, UnknownNameError
from i2i_core.config import deep_merge, parse_set
from toy import ToyPlugin


@pytest.fixture
def engine():
    return Engine([ToyPlugin()], autoload=False, warn=False)


def test_merge_order_defaults_preset_file_set(engine, tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[model]\nwidth = 7\n[trainer]\nlr = 0.001\nmax_steps = 9\n')
    run = engine.resolve_config("toy", "small", str(f), ["trainer.max_steps=11", "data.no_flip=true"])
    assert run.model["width"] == 7            # file beats preset (2)
    assert run.trainer.max_steps == 11        # --set beats file
    assert run.trainer.lr == 0.001 and run.data.no_flip is True
    assert run.preset == "small"


def test_json_config_file(engine, tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"model": {"width": 3}}))
    assert engine.resolve_config("toy", config_file=str(f)).model["width"] == 3


def test_parse_set_types():
    assert parse_set(["a.b=1", "a.c=0.5", "d=true", "e=hello", "f=null", "g=[1,2]"]) == {
        "a": {"b": 1, "c": 0.5}, "d": True, "e": "hello", "f": None, "g": [1, 2]}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set(["novalue"])


def test_unknown_field_names_dotted_path(engine):
    with pytest.raises(ConfigError, match=r"trainer\.lrr: unknown field \(did you mean lr\?\) \(got 1\)"):
        engine.resolve_config("toy", overrides=["trainer.lrr=1"])
    with pytest.raises(ConfigError, match=r"model\.widht: unknown field"):
        engine.resolve_config("toy", overrides=["model.widht=3"])


def test_wrong_type_names_value(engine):
    with pytest.raises(ConfigError, match=r"trainer\.max_steps: .*integer.*'many'"):
        engine.resolve_config("toy", overrides=["trainer.max_steps=many"])


def test_crop_larger_than_load(engine):
    with pytest.raises(ConfigError, match="crop_size 300 is larger than load_size 286"):
        engine.resolve_config("toy", overrides=["data.crop_size=300"])


def test_unknown_preset_and_recipe(engine):
    with pytest.raises(UnknownNameError, match="Unknown preset 'smal' for recipe 'toy'. Did you mean: small"):
        engine.resolve_config("toy", "smal")
    with pytest.raises(UnknownNameError, match="Did you mean: toy"):
        engine.resolve_config("tooy")


def test_bad_config_files(engine, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\n")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        engine.resolve_config("toy", config_file=str(bad))
    with pytest.raises(ConfigError, match="not found"):
        engine.resolve_config("toy", config_file=str(tmp_path / "missing.toml"))
    yaml = tmp_path / "c.yaml"
    yaml.write_text("a: 1")
    with pytest.raises(ConfigError, match="expected a .toml or .json"):
        engine.resolve_config("toy", config_file=str(yaml))


def test_device_validation(engine):
    with pytest.raises(ConfigError, match="trainer.device"):
        engine.resolve_config("toy", overrides=["trainer.device=gpu0"])


def test_deep_merge_does_not_mutate():
    base = {"a": {"b": 1}}
    out = deep_merge(base, {"a": {"c": 2}})
    assert out == {"a": {"b": 1, "c": 2}} and base == {"a": {"b": 1}}


def test_preset_extends_another(engine):
    from i2i_core import hookimpl

    class More:
        @hookimpl
        def register_presets(self, register):
            register("toy", "child", {"extends": "small", "trainer": {"lr": 0.5}})
            register("toy", "loop", {"extends": "loop"})

    engine.register(More())
    run = engine.resolve_config("toy", "child")
    assert run.model["width"] == 2 and run.trainer.lr == 0.5 and run.trainer.max_steps == 3
    with pytest.raises(ConfigError, match="extends itself"):
        engine.resolve_config("toy", "loop")


def test_every_config_error_is_reported_at_once(engine):
    with pytest.raises(ConfigError) as err:
        engine.resolve_config("toy", overrides=["trainer.lrr=1", "data.crop_sise=3", "trainer.max_steps=-1",
                                                "model.widht=2"])
    message = str(err.value)
    assert "(4 problems)" in message and "\n" not in message
    for part in ("trainer.lrr: unknown field (did you mean lr?)", "data.crop_sise: unknown field (did you mean "
                 "crop_size?)", "trainer.max_steps: Input should be greater than 0", "model.widht: unknown field "
                 "(did you mean width?)"):
        assert part in message, message
