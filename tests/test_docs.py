"""Docs that run: every ``i2i ...`` command in README.md and docs/*.md parses against the real CLI,
the cheap ones run, README's Python snippets run, and every script in examples/ runs at a tiny step count.

Parsing goes through click's own parser without invoking anything: the subcommand must exist,
every option must exist (and take a value when it needs one), no positional argument may be left
over, required arguments must be given, ``click.Choice`` values must be among the choices, and
recipe, preset and importer names must be registered. Synopsis lines (``[--n 100]``,
``a|b|c``) are read as the command they describe.
"""

from __future__ import annotations

import copy
import re
import runpy
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from i2i_core import Engine, hookimpl
from i2i_core.cli import cli
from i2i_core.io.checkpoint import find_weights

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL_BLOCKS = ("bash", "sh", "shell", "console", "")
COMMAND_START = re.compile(r"(^|&&|;)\s*(\S*/)?i2i\s")
#: placeholders of the prose (RECIPE, RUN, DIR, NAME, N, SRC, OUT): such a command is parsed, never run
PLACEHOLDER = re.compile(r"[A-Z][A-Z_]*")

#: commands that are parsed but not run, with the reason. Everything else must be cheap and is run.
PARSE_ONLY = {
    ("run",): "trains for minutes (demos) to days (dataset presets) and most need a downloaded data set",
    ("translate",): "needs a trained run folder",
    ("import-checkpoint",): "needs official checkpoint files",
    ("eval",): "needs a trained run folder",
    ("export",): "needs a trained run folder",
    ("pix2pixhd", "encode-features"): "needs a trained *_feat run",
    ("data", "prepare-cityscapes"): "needs a Cityscapes download",
    ("data",): "a bare group: prints its help",
}
#: commands run for real, with arguments made small and pointed at tmp_path (see _cheap)
RUN = {("list-models",), ("list-presets",), ("plugins",), ("show-config",), ("data", "synth")}


# --- collecting ------------------------------------------------------------------------------
def _blocks(text: str) -> Iterator[tuple[str, str]]:
    lang: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        match = FENCE.match(line.strip())
        if match and lang is None:
            lang, lines = match.group(1), []
        elif line.strip() == "```" and lang is not None:
            yield lang, "\n".join(lines)
            lang = None
        elif lang is not None:
            lines.append(line)


def _split_commands(tokens: list[str]) -> Iterator[list[str]]:
    part: list[str] = []
    for token in [*tokens, "&&"]:
        if token in ("&&", ";", "||"):
            if part and re.fullmatch(r"(\S*/)?i2i", part[0]):
                yield part[1:]
            part = []
        else:
            part.append(token)


def _synopsis(args: list[str]) -> list[str]:
    """``[--n 100]`` -> ``--n 100``; ``a|b|c`` -> ``a`` (the first alternative)."""
    out = []
    for token in args:
        token = token.strip("[]")
        if token:
            out.append(token.split("|")[0] if "|" in token and not token.startswith("-") else token)
    return out


def collect() -> list[tuple[str, list[str]]]:
    """``(where, argv without the leading i2i)`` of every command in the docs, in order."""
    found = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for lang, body in _blocks(text):
            if lang not in SHELL_BLOCKS:
                continue
            for line in body.replace("\\\n", " ").splitlines():
                if COMMAND_START.search(line):
                    for argv in _split_commands(shlex.split(line, comments=True)):
                        found.append((f"{path.name}: {line.strip()}", _synopsis(argv)))
        for match in re.finditer(r"`(i2i [^`]+)`", text):
            found.append((f"{path.name}: `{match.group(1)}` (in prose)", _synopsis(shlex.split(match.group(1))[1:])))
    return found


COMMANDS = collect()


# --- the full command group, as i2i_core.cli.main() builds it ----------------------------------
@pytest.fixture(scope="module")
def group(i2i_shared_engine: Engine) -> click.Group:
    # a copy, so that the module-level group other tests use is left as it is
    full = copy.copy(cli)
    full.commands = dict(cli.commands)
    i2i_shared_engine.pm.hook.register_commands(cli=full)
    return full


def resolve(group: click.Group, argv: list[str]) -> tuple[tuple[str, ...], click.Command, list[str], click.Context]:
    """Walk the subcommands: ``(path, leaf command, its arguments, parent context)``."""
    ctx = group.make_context("i2i", [], resilient_parsing=True)
    cmd: click.Command = group
    path: list[str] = []
    rest = list(argv)
    while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
        name, rest = rest[0], rest[1:]
        sub = cmd.get_command(ctx, name)
        if sub is None:
            raise AssertionError(f"no such command: i2i {' '.join([*path, name])} (have {sorted(cmd.commands)})")
        path.append(name)
        if isinstance(sub, click.Group) and rest and not rest[0].startswith("-"):
            ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
        cmd = sub
    return tuple(path), cmd, rest, ctx


def check_parses(group: click.Group, engine: Engine, argv: list[str], fragment: bool = False) -> tuple[str, ...]:
    """Raise AssertionError (or click's UsageError) when ``i2i ARGV`` would not parse.

    A ``fragment`` (a command named in prose, e.g. "`i2i data synth` options") may leave out
    required arguments; everything it does name must exist.
    """
    if argv and all(a in ("--help", "-h", "--version") for a in argv):
        return ()  # the group's own options (`i2i --help`, `i2i --version`)
    path, cmd, rest, parent = resolve(group, argv)
    assert path, f"no subcommand in i2i {' '.join(argv)}"
    ctx = click.Context(cmd, info_name=path[-1], parent=parent)
    raw, leftover, _ = cmd.make_parser(ctx).parse_args(list(rest))  # unknown options raise here
    # newer click marks what was not given with a sentinel object
    opts = {k: v for k, v in raw.items() if isinstance(v, (str, bool, int, float, list, tuple))}
    assert not leftover, f"unexpected extra arguments {leftover}"
    for param in cmd.params:
        given = opts.get(param.name)
        if param.required and given is None and not fragment:
            raise AssertionError(f"missing {param.human_readable_name}")
        if given is not None and isinstance(param.type, click.Choice):
            values = given if isinstance(given, (list, tuple)) else [given]
            bad = [v for v in values if v not in param.type.choices]
            assert not bad, f"{param.opts[0]} {bad[0]!r} is not one of {list(param.type.choices)}"
    _check_names(engine, path, opts)
    return path


def _check_names(engine: Engine, path: tuple[str, ...], opts: dict) -> None:
    regs = engine.registries
    recipe = opts.get("recipe")
    if path[0] in ("run", "show-config", "list-presets") and recipe and not PLACEHOLDER.fullmatch(recipe):
        assert recipe in regs.recipes, f"recipe {recipe!r} is not registered"
        preset = opts.get("preset")
        if preset and not PLACEHOLDER.fullmatch(preset):
            names = [e.meta["preset"] for e in regs.presets.for_recipe(recipe)]
            assert preset in names, f"recipe {recipe} has no preset {preset!r} (has {names})"
    source = opts.get("source")
    if path[0] == "import-checkpoint" and source and not PLACEHOLDER.fullmatch(source):
        assert source in regs.importers, f"importer {source!r} is not registered"


def _kind(path: tuple[str, ...], argv: list[str]) -> str:
    if any(PLACEHOLDER.fullmatch(token) for token in argv):
        return "parse"
    if path in RUN:
        return "run"
    assert path in PARSE_ONLY or path[:1] in PARSE_ONLY, (
        f"i2i {' '.join(path)} is neither in RUN nor in PARSE_ONLY: decide whether the docs test runs it")
    return "parse"


def _cheap(argv: list[str], tmp_path: Path) -> list[str]:
    """Small sizes and a tmp folder for ``data synth``; other cheap commands run as written."""
    if argv[:2] != ["data", "synth"]:
        return argv
    out = list(argv)
    for option, value in (("--out", str(tmp_path / "synth")), ("--n", "4"), ("--size", "32"), ("--n-test", "1")):
        if option in out:
            out[out.index(option) + 1] = value
        else:
            out += [option, value]
    return out


# --- the tests ---------------------------------------------------------------------------------
def test_the_docs_hold_commands():
    # guards the collector itself: a broken regex would make every other test vacuous
    assert len(COMMANDS) > 30
    assert any(argv[:1] == ["import-checkpoint"] for _, argv in COMMANDS)
    assert any(where.startswith("datasets.md") and argv[:2] == ["data", "synth"] for where, argv in COMMANDS)


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command(where: str, argv: list[str], group: click.Group, i2i_shared_engine: Engine,
                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = i2i_shared_engine
    fragment = where.endswith("(in prose)")
    path = check_parses(group, engine, argv, fragment)
    if fragment or _kind(path, argv) != "run":
        return
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(group, _cheap(argv, tmp_path), obj={"engine": engine})
    assert result.exit_code == 0, f"{where}\n{result.output}"
    assert result.output.strip()


@pytest.mark.parametrize("argv", [
    ["train", "pix2pix"],                                    # the old docs' command
    ["data", "prepare-cityscapes", "--out", "x", "a", "b"],  # an option that does not exist
    ["list-models", "--kind", "recipe"],                     # not one of the choices
    ["run", "pix2pix", "--preset", "facade"],                # a preset that is not registered
    ["list-models", "a", "b"],                               # a left-over argument
    ["import-checkpoint", "--from", "junyanz", "x.pth"],     # OUT missing
])
def test_the_checker_rejects_what_the_cli_would(argv: list[str], group: click.Group,
                                                i2i_shared_engine: Engine) -> None:
    with pytest.raises((AssertionError, click.UsageError)):
        check_parses(group, i2i_shared_engine, argv)


#: README snippets marked ``<!-- NAME -->`` that another test runs (it needs a trained run), not this file
COVERED_ELSEWHERE = {"translator-example": "tests/test_translator.py"}


def _python_snippets(path: Path) -> list[tuple[str | None, str]]:
    """``(marker, code)`` of every python block; the marker is an HTML comment right above the fence."""
    pattern = re.compile(r"(?:<!--\s*([\w-]+)\s*-->\s*\n)?```python\n(.*?)\n```", re.S)
    return [(m.group(1), m.group(2)) for m in pattern.finditer(path.read_text(encoding="utf-8"))]


def test_readme_python_snippets_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snippets = _python_snippets(ROOT / "README.md")
    assert snippets
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("I2I_CACHE", str(tmp_path / "cache"))
    for marker, code in snippets:
        if marker in COVERED_ELSEWHERE:
            assert marker in (ROOT / COVERED_ELSEWHERE[marker]).read_text(encoding="utf-8")
            continue
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_snippet"})  # noqa: S102
    assert (tmp_path / "runs" / "quick" / "index.html").is_file()


# --- examples/ ------------------------------------------------------------------------------------
def test_every_example_has_a_test():
    """Each script or package in examples/ is named by some test under tests/ (this file covers two)."""
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    examples = [p.name for p in (ROOT / "examples").iterdir()
                if not p.name.startswith((".", "_")) and (p.suffix == ".py" or p.is_dir())]
    untested = [name for name in examples if Path(name).stem not in tests]
    assert not untested, f"examples without a test: {untested}"


def test_custom_recipe_example_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("I2I_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "argv", ["custom_recipe.py", "--steps", "2", "--out", str(tmp_path / "run")])
    runpy.run_path(str(ROOT / "examples" / "custom_recipe.py"), run_name="__main__")
    assert "held-out PSNR" in capsys.readouterr().out
    assert find_weights(tmp_path / "run").is_file()


def test_template_recipe_example_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("I2I_CACHE", str(tmp_path / "cache"))
    template = runpy.run_path(str(ROOT / "examples" / "template_recipe.py"))
    recipe_cls = template["TemplateRecipe"]

    class TemplatePlugin:
        @hookimpl
        def register_recipes(self, register):
            register("template", recipe_cls, description="examples/template_recipe.py")

    result = Engine(plugins=[TemplatePlugin()], warn=False).run("template", out=tmp_path / "run", overrides={
        "model": {"ngf": 4},
        "data": {"root": None, "synthetic": {"layout": "aligned", "n": 4, "n_test": 2, "size": 32, "seed": 0},
                 "preprocess": "none", "load_size": 32, "crop_size": 32},
        "trainer": {"max_steps": 2, "device": "cpu", "sample_every": 2, "save_every": 2, "eval_max_images": 2}})
    assert find_weights(result.run_dir).is_file()
    assert set(result.metrics) >= {"psnr", "ssim"}
