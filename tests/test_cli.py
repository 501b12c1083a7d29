"""The i2i command line, in-process with a temporary plugin."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from i2i_core import ConfigError, Engine, hookimpl
from i2i_core.cli import cli
from toy import ToyPlugin, ToyRecipe


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
    (("show-config", "toy", "--preset", "small_ema"), "preset 'small_ema' is gone: use --preset small --ema"),
])
def test_bad_input_one_line_no_traceback(invoke, args, expected):
    res = invoke(*args)
    assert res.exit_code == 1
    assert expected in res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("Error: ")


@pytest.mark.parametrize("args,decay", [((), None), (("--ema",), 0.999), (("--ema", "0.99"), 0.99),
                                        (("--ema", "--set", "trainer.lr=0.1"), 0.999)])
def test_ema_is_a_run_option_on_any_preset(monkeypatch, tmp_path, args, decay):
    import i2i_core.assembly.run

    engine = Engine([ToyPlugin()], autoload=False, warn=False)
    seen = {}

    def train(engine, plan, **kwargs):  # the resolved config is what the run would train with
        seen["config"] = plan.config
        return SimpleNamespace(metrics={}, run_dir=tmp_path)

    monkeypatch.setattr(i2i_core.assembly.run, "train", train)
    res = CliRunner().invoke(cli, ["run", "toy", "--preset", "small", "--out", str(tmp_path), *args],
                             obj={"engine": engine})
    assert res.exit_code == 0, res.output
    assert seen["config"].trainer.ema_decay == decay


def test_ema_outside_0_1_is_refused_in_one_line(invoke):
    res = invoke("run", "toy", "--ema", "1.5")
    assert res.exit_code == 2 and "Invalid value for '--ema': 1.5 is not in the range 0<x<1" in res.output


def test_a_run_saved_under_an_old_ema_preset_name_still_resumes():
    from i2i_core.config.resolution import resolve_resumed

    engine = Engine([ToyPlugin()], autoload=False, warn=False)
    saved = engine.resolve_config("toy", "small", overrides=["trainer.ema_decay=0.999"]).model_dump()
    saved["preset"] = "small_ema"  # the name such runs were saved with before EMA became --ema
    run, changes = resolve_resumed(engine.registries, saved, "toy")
    assert (run.preset, run.trainer.ema_decay, changes) == ("small_ema", 0.999, [])


def test_plugins_table_lists_core_with_all(invoke):
    res = invoke("plugins", "--all", "--json")
    names = [r["name"] for r in json.loads(res.output)]
    assert "i2i_core.recipe.defaults" in names


# --- a CLI that answers at once: no torch before a command needs it -----------------------------

_PROBE = """
import sys
from i2i_core.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
print("TORCH" if "torch" in sys.modules else "NO-TORCH", code)
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["run", "--help"], ["show-config", "--help"],
                                  ["data", "synth", "--help"], ["pix2pixhd", "--help"]])
def test_help_and_version_never_import_torch(args):
    out = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith("NO-TORCH 0"), out.stdout[-300:]
    if args == ["--help"]:  # first-party plugin commands come from the i2i.commands entry points
        assert "\n  data " in out.stdout and "\n  pix2pixhd " in out.stdout and "\n  run " in out.stdout


class _HookOnlyCommands:
    """A third-party plugin that adds a command through register_commands only."""

    @hookimpl
    def register_commands(self, cli):
        @cli.command("hello", help="say hello")
        @click.pass_context
        def hello(ctx):
            click.echo(f"hello from an engine with {len(ctx.find_object(dict)['engine'].registries.recipes)} recipe(s)")


@pytest.fixture
def hook_cli():
    # a copy of the group, so that the module-level one other tests use is left as it is
    group = copy.copy(cli)
    group.commands = dict(cli.commands)
    group.command_sources = {}
    group.hooks_loaded = False
    engine = Engine([ToyPlugin(), _HookOnlyCommands()], autoload=False, warn=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(group, list(args), obj={"engine": engine})


def test_a_hook_only_command_is_found_when_called_and_listed_by_plugins(hook_cli):
    assert "hello" not in hook_cli("--help").output  # --help never builds the engine
    res = hook_cli("hello")
    assert res.exit_code == 0 and res.output == "hello from an engine with 1 recipe(s)\n"
    rows = json.loads(hook_cli("plugins", "--all", "--json").output)
    assert any("command:hello" in r["registered"] for r in rows)


def test_an_unknown_command_still_fails_in_one_line(hook_cli):
    res = hook_cli("helo")
    assert res.exit_code == 2 and "No such command 'helo'" in res.output


class _StagedPlugin:
    """A recipe whose preset cannot run on its own (as pix2pixHD's 1024p)."""

    @hookimpl
    def register_presets(self, register):
        register("staged", "stage2", {"model": {"width": 3}})

    @hookimpl
    def register_recipes(self, register):
        class Staged(ToyRecipe):
            @classmethod
            def validate_run(cls, run):
                if run.preset == "stage2" and not run.trainer.init_from:
                    raise ConfigError("preset stage2 starts from a stage-1 run: pass --init-from RUN")

        register("staged", Staged)


def test_show_config_shows_a_staged_preset_with_what_it_needs():
    engine = Engine([ToyPlugin(), _StagedPlugin()], autoload=False, warn=False)
    runner = CliRunner()
    res = runner.invoke(cli, ["show-config", "staged", "--preset", "stage2"], obj={"engine": engine})
    assert res.exit_code == 0 and "model.width" in res.output
    assert "note: to run, this config needs: preset stage2 starts from a stage-1 run" in res.output
    res = runner.invoke(cli, ["show-config", "staged", "--preset", "stage2", "--set", "trainer.init_from=r"],
                        obj={"engine": engine})
    assert res.exit_code == 0 and "note:" not in res.output
    with pytest.raises(ConfigError, match="stage-1 run"):  # a run still refuses it
        engine.resolve_config("staged", "stage2")


def test_version_is_the_distributions():
    import importlib.metadata

    import i2i_core

    # `i2i --version` prints i2i_core.__version__ (no metadata scan at start-up): it must be the installed one
    assert i2i_core.__version__ == importlib.metadata.version("i2i-core")
    assert CliRunner().invoke(cli, ["--version"]).output == f"i2i, version {i2i_core.__version__}\n"
