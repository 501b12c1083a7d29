"""The i2i command line, in-process with a temporary plugin."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from i2i_core import Engine
from i2i_core.cli import cli
from toy import ToyPlugin


@pytest.fixture
def invoke():
    engine = Engine([ToyPlugin()], autoload=False, warn=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), obj={"engine": engine})


def test_list_models_json_and_pattern(invoke):
    res = invoke("list-models", "--json")
    assert res.exit_code == 0
    rows = json.loads(res.output)
    assert [(r["name"], r["description"], r["presets"]) for r in rows] == [("toy", "toy recipe for tests", ["small"])]
    res = invoke("list-models", "toy*", "--kind", "architectures", "--json")
    assert [r["name"] for r in json.loads(res.output)] == ["toy_g"]
    assert json.loads(res.output)[0]["role"] == "generator"


def test_list_presets_and_show_config(invoke):
    res = invoke("list-presets", "--json")
    assert json.loads(res.output)[0]["preset"] == "small"
    res = invoke("show-config", "toy", "--preset", "small", "--set", "trainer.lr=0.01", "--json")
    cfg = json.loads(res.output)
    assert cfg["model"]["width"] == 2 and cfg["trainer"]["lr"] == 0.01
    res = invoke("show-config", "toy")
    assert res.exit_code == 0 and "trainer.lr" in res.output


@pytest.mark.parametrize("args,expected", [
    (("show-config", "tooy"), "Unknown recipe 'tooy'. Did you mean: toy?"),
    (("show-config", "toy", "--preset", "big"), "Unknown preset 'big' for recipe 'toy'"),
    (("show-config", "toy", "--set", "trainer.nope=1"), "trainer.nope: unknown field"),
    (("show-config", "toy", "--set", "trainer.max_steps=abc"), "trainer.max_steps"),
    (("list-presets", "tooy"), "Did you mean: toy?"),
    (("run", "toy", "--resume", "/nonexistent/run"), "no checkpoint"),
])
def test_bad_input_one_line_no_traceback(invoke, args, expected):
    res = invoke(*args)
    assert res.exit_code == 1
    assert expected in res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("Error: ")


def test_plugins_table_lists_core_with_all(invoke):
    res = invoke("plugins", "--all", "--json")
    names = [r["name"] for r in json.loads(res.output)]
    assert "i2i_core.defaults" in names
