"""Config merging order, --set parsing and readable validation errors."""

from __future__ import annotations

import json

import pytest
from pydantic import Field

from i2i_core import ConfigError, Engine, Recipe, RecipeConfig, UnknownNameError, hookimpl
from i2i_core.config.schema import deep_merge, parse_set
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


# --- options of one generator, input-only readers (the one resolution function) ---------------

class _NetConfig(RecipeConfig):
    netG: str = "unet"
    num_downs: int | None = Field(None, json_schema_extra={"only_for": {"netG": ["unet"]}})
    width: int = 4


class _NetRecipe(Recipe):
    name = "net"
    Config = _NetConfig

    @classmethod
    def validate_run(cls, run):
        if run.model["num_downs"] is not None and run.model["netG"] != "unet":
            raise ConfigError("model.num_downs only applies to netG='unet'")


class _NetPlugin:
    @hookimpl
    def register_recipes(self, register):
        register("net", _NetRecipe)

    @hookimpl
    def register_presets(self, register):
        register("net", "small", {"model": {"netG": "unet", "num_downs": 6}})

    @hookimpl
    def register_datasets(self, register):
        register("folder", lambda cfg, split: [], description="inputs only", training=False)
        register("pairs", lambda cfg, split: [], description="inputs and targets")


@pytest.fixture
def net_engine():
    return Engine([_NetPlugin()], autoload=False, warn=False)


def test_changing_the_generator_clears_its_options_with_a_note(net_engine, caplog):
    run = net_engine.resolve_config("net", "small", overrides=["model.netG=resnet"])
    assert run.model["netG"] == "resnet" and run.model["num_downs"] is None
    assert "model.num_downs=6 (from preset small) cleared" in caplog.text and "--set" in caplog.text
    # kept while it applies, and when the user sets both in the same layer (then it is the user's error)
    assert net_engine.resolve_config("net", "small").model["num_downs"] == 6
    with pytest.raises(ConfigError, match="num_downs only applies"):
        net_engine.resolve_config("net", "small", overrides=["model.netG=resnet", "model.num_downs=5"])


def test_a_config_file_changing_the_generator_clears_too(net_engine, tmp_path, caplog):
    f = tmp_path / "c.toml"
    f.write_text('[model]\nnetG = "resnet"\n')
    assert net_engine.resolve_config("net", "small", str(f)).model["num_downs"] is None
    assert f"--config {f}" in caplog.text


def test_an_input_only_reader_cannot_train(net_engine):
    with pytest.raises(ConfigError) as err:
        net_engine.resolve_config("net", overrides=["data.dataset=folder"])
    msg = str(err.value)
    assert "\n" not in msg and "'folder' reads inputs only" in msg and "pairs" in msg and "folder," not in msg
    assert net_engine.resolve_config("net", overrides=["data.dataset=pairs"]).data.dataset == "pairs"
    # a saved run is still readable with it (inference loading validates without the training check)
    assert net_engine.validate({"recipe": "net", "data": {"dataset": "folder"}}).data.dataset == "folder"


def test_cross_checks_can_be_skipped_to_show_a_config(net_engine):
    run = net_engine.resolve_config("net", "small", overrides={"model": {"netG": "resnet", "num_downs": 5}},
                                    cross_checks=False)
    assert run.model["num_downs"] == 5
