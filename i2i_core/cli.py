"""The ``i2i`` command line.

It answers ``--help`` and ``--version`` without importing torch: this module imports click and the
standard library only; the Engine (plugins, torch) is built when a command needs it, and rich is
imported when something is printed. First-party commands of plugins are listed through the
``i2i.commands`` entry points (modules that import click only); commands that a third-party plugin
adds only through the ``register_commands`` hook are loaded when their name is asked for.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from i2i_core import __version__
from i2i_core.base.errors import I2IError, TrainingInterrupted

if TYPE_CHECKING:
    from rich.console import Console as RichConsole
    from rich.progress import Progress, TaskID
    from rich.table import Table as RichTable

    from i2i_core.assembly.engine import Engine

KINDS = ("recipes", "architectures", "losses", "optimizers", "datasets", "importers", "presets", "loggers")
#: entry-point group of plugin commands listed without loading plugins: ``name = "module:add_commands"``,
#: ``add_commands(cli: click.Group)`` adding the commands, its module importing click only
COMMANDS_GROUP = "i2i.commands"


@functools.cache
def _rich_console() -> RichConsole:
    """rich's Console, created on first use: importing rich is a cost ``i2i --help`` need not pay."""
    from rich.console import Console

    return Console()


class _Console:
    """Stands for :func:`_rich_console` at module level (``console.print(...)``)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_rich_console(), name)


console = _Console()


def Table(*args: Any, **kwargs: Any) -> RichTable:  # noqa: N802 - stands in for rich's class, imported late
    """``rich.table.Table``, imported on first use (start-up time)."""
    from rich.table import Table as RichTable

    return RichTable(*args, **kwargs)


class _State(dict[str, Any]):
    """The click context object: ``obj["engine"]`` is the one Engine of this call, built on first use.

    Plugin commands read it with ``ctx.find_object(dict)["engine"]`` as before; commands that
    never ask (``--help``, ``--version``, ``data synth``) never load the plugins or torch.
    """

    def __missing__(self, key: str) -> Any:
        if key != "engine":
            raise KeyError(key)
        from i2i_core.assembly.engine import Engine  # here, not at the top: torch and every plugin load with it

        self["engine"] = engine = Engine()
        return engine

    def __contains__(self, key: object) -> bool:
        return key == "engine" or super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default


def _engine(ctx: click.Context) -> Engine:
    obj = ctx.ensure_object(dict)
    try:
        return obj["engine"]
    except KeyError:  # a plain dict (CliRunner without obj=): build the Engine as _State would
        obj["engine"] = _State()["engine"]
        return obj["engine"]


def _one_line(exc: BaseException) -> str:
    """The user-facing line of an error (a DataLoader worker wraps it in a traceback: keep its last line)."""
    text = str(exc)
    if "Original Traceback" in text:
        last = [line for line in text.splitlines() if line.strip()][-1]
        text = last.split(": ", 1)[1] if last.split(": ", 1)[0].endswith("Error") else last
    return text


def _plugin_allowed(name: str) -> bool:
    """The plugin filters of the loader (``I2I_LOAD_PLUGINS``, ``I2I_DISABLE_PLUGINS``) for a command entry point."""
    def names(var: str) -> set[str] | None:
        raw = os.environ.get(var)
        return None if raw is None else {item.strip() for item in raw.split(",") if item.strip()}

    allow, deny = names("I2I_LOAD_PLUGINS"), names("I2I_DISABLE_PLUGINS") or set()
    return name not in deny and (allow is None or name in allow)


def _add_broken(group: click.Group, name: str, what: str, message: str) -> None:
    @group.command(f"broken-{name}", help=f"† plugin {name} failed to add its commands")
    def _broken() -> None:
        raise click.ClickException(f"plugin {name} failed to add its commands ({what}): {message}")


class _Group(click.Group):
    """The ``i2i`` group: plugin commands found lazily; errors as one ``Error: ...`` line and an exit code.

    Commands: the core's, then those of the ``i2i.commands`` entry points (loaded on the first
    listing or look-up, cheap), then, only for a name still unknown, those that plugins add
    through the ``register_commands`` hook (this builds the Engine, i.e. imports torch).

    Errors: :class:`I2IError` -> 1; filesystem errors -> 1 naming the file; Ctrl-C/SIGTERM during
    training -> 130/143 after the trainer saved; anything else -> 1 with the exception's
    type and message. ``I2I_DEBUG=1`` shows the traceback instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.static_loaded = False
        self.hooks_loaded = False
        #: plugin (entry-point) name -> the commands it added, for ``i2i plugins``
        self.command_sources: dict[str, list[str]] = {}

    def load_static_commands(self) -> None:
        """Add the commands of the ``i2i.commands`` entry points (once)."""
        if self.static_loaded:
            return
        self.static_loaded = True
        import importlib.metadata as md  # here: `i2i --version` need not scan the installed distributions

        for ep in sorted(md.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
            if not _plugin_allowed(ep.name):
                continue
            before = set(self.commands)
            try:
                ep.load()(self)
            except Exception as exc:  # one broken plugin must not take the CLI down
                if os.environ.get("I2I_STRICT_PLUGINS") == "1":
                    raise
                _add_broken(self, ep.name, f"entry point {ep.value}", f"{type(exc).__name__}: {exc}")
            self.command_sources[ep.name] = sorted(set(self.commands) - before)

    def load_hook_commands(self, engine: Engine, *, again: bool = False) -> None:
        """Add the commands of ``engine``'s ``register_commands`` hook (once, unless ``again``: a
        different engine), skipping plugins whose ``i2i.commands`` entry point added theirs."""
        if self.hooks_loaded and not again:
            return
        self.hooks_loaded = True
        self.load_static_commands()
        for impl in reversed(engine.pm.hook.register_commands.get_hookimpls()):
            if impl.plugin_name in self.command_sources:
                continue  # its i2i.commands entry point already added the same commands
            before = set(self.commands)
            try:
                impl.function(self)
            except Exception as exc:  # a broken plugin's commands must not take the CLI down
                _add_broken(self, impl.plugin_name, "register_commands", f"{type(exc).__name__}: {exc}")
            self.command_sources[impl.plugin_name] = sorted(set(self.commands) - before)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_static_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.load_static_commands()
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and not self.hooks_loaded and not ctx.resilient_parsing:
            self.load_hook_commands(_engine(ctx))  # a third-party command: only the Engine knows it
            cmd = super().get_command(ctx, cmd_name)
        return cmd

    def invoke(self, ctx: click.Context) -> Any:
        if os.environ.get("I2I_DEBUG"):
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except TrainingInterrupted as exc:
            if int(os.environ.get("RANK", "0")) == 0:  # under torchrun every rank stops; one says so
                click.echo(str(exc), err=True)
            raise click.exceptions.Exit(128 + exc.signum) from None
        except KeyboardInterrupt as exc:
            # outside the training loop (start-up, the final evaluation): nothing half-written, nothing to save
            click.echo(f"Error: {exc}" if str(exc) else "Error: interrupted", err=True)
            raise click.exceptions.Exit(128 + getattr(exc, "signum", 2)) from None
        except I2IError as exc:
            raise click.ClickException(_one_line(exc) + (f"\nHint: {exc.hint}" if exc.hint else "")) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            raise click.ClickException(f"{type(exc).__name__}: {_one_line(exc)} (set I2I_DEBUG=1 for the traceback)") from None


@click.group(name="i2i", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Commands that a plugin adds only through its register_commands hook are not listed here; "
                    "`i2i plugins` lists them.")
@click.version_option(__version__, prog_name="i2i")  # the package's own string: no metadata scan
def cli() -> None:
    """GAN image-to-image translation: pix2pix, pix2pixHD, CycleGAN and plugins."""


# --- discovery ----------------------------------------------------------------------


@cli.command("list-models")
@click.argument("pattern", default="*")
@click.option("--kind", type=click.Choice(KINDS), default="recipes", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def list_models(ctx: click.Context, pattern: str, kind: str, as_json: bool) -> None:
    """List registered components matching PATTERN (fnmatch, e.g. 'resnet*')."""
    regs = _engine(ctx).registries
    reg = regs.kinds()[kind]
    rows = []
    for name in reg.list(pattern):
        e = reg.entry(name)
        row: dict[str, Any] = {"name": name, "plugin": e.plugin, "description": e.description}
        if kind == "architectures":
            row["role"] = e.role
        if kind == "recipes":
            row["presets"] = [p.preset for p in regs.presets.for_recipe(name)]
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{kind} ({len(rows)})")
    for col in rows[0].keys() if rows else ("name",):
        table.add_column(col)
    for row in rows:
        table.add_row(*[", ".join(v) if isinstance(v, list) else str(v or "") for v in row.values()])
    console.print(table)


@cli.command("list-presets")
@click.argument("recipe", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_presets(ctx: click.Context, recipe: str | None, as_json: bool) -> None:
    """List presets (of RECIPE, or of every recipe)."""
    regs = _engine(ctx).registries
    if recipe:
        regs.recipes.entry(recipe)  # did-you-mean on a typo
    entries = [e for e in regs.presets.entries() if recipe in (None, e.recipe)]
    rows = [{"recipe": e.recipe, "preset": e.preset, "plugin": e.plugin,
             "description": e.description} for e in entries]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"presets ({len(rows)})")
    for col in ("recipe", "preset", "plugin", "description"):
        table.add_column(col)
    for row in rows:
        table.add_row(*[str(v or "") for v in row.values()])
    console.print(table)


@cli.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="also show the core's default plugins")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def plugins(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Installed plugins, their hooks and what they registered († = broken)."""
    eng = _engine(ctx)
    regs = eng.registries
    provided: dict[str, list[str]] = {}
    for reg in regs.kinds().values():
        for e in reg.entries():
            provided.setdefault(e.plugin or "?", []).append(f"{reg.kind}:{e.name}")
    root = ctx.find_root().command
    if isinstance(root, _Group):  # which plugin added which command (entry points and the hook)
        root.load_hook_commands(eng)
        for name, commands in root.command_sources.items():
            provided.setdefault(name, []).extend(f"command:{c}" for c in commands)
    rows: list[dict[str, Any]] = []
    for name, plugin in eng.pm.list_name_plugin():
        dist, version = eng.loaded.get(name, ("i2i-core", ""))
        if name not in eng.loaded and not show_all:
            continue
        hooks = sorted(h.name for h in (eng.pm.get_hookcallers(plugin) or []))
        rows.append({"name": name, "dist": dist, "version": version, "hooks": hooks,
                     "registered": provided.get(name, []), "error": ""})
    for b in eng.broken:
        rows.append({"name": b.name + " †", "dist": b.dist, "version": b.version, "hooks": [],
                     "registered": [], "error": b.error})
    for plugin_name, hook, exc in regs.errors:
        rows.append({"name": plugin_name + " †", "dist": "", "version": "", "hooks": [hook], "registered": [],
                     "error": f"{type(exc).__name__}: {exc}"})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="i2i plugins")
    for col in ("name", "dist", "version", "hooks", "registered", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        added = r["registered"]
        shown = ", ".join(added[:8]) + (f" (+{len(added) - 8})" if len(added) > 8 else "")
        table.add_row(r["name"], r["dist"], r["version"], ", ".join(r["hooks"]), shown, r["error"])
    console.print(table)


@cli.command("show-config")
@click.argument("recipe")
@click.option("--preset")
@click.option("--config", "config_file", type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_config(ctx: click.Context, recipe: str, preset: str | None, config_file: str | None,
                sets: tuple[str, ...], as_json: bool) -> None:
    """Print the fully merged config of RECIPE (with --preset/--config/--set applied).

    Any preset is shown, also one that cannot run as it is (a staged pix2pixHD preset needs
    trainer.init_from): a note then says what it needs.
    """
    eng = _engine(ctx)
    run = eng.resolve_config(recipe, preset, config_file, list(sets), cross_checks=False)
    try:
        eng.recipe_class(recipe).validate_run(run)
        needs = None
    except I2IError as exc:
        needs = _one_line(exc)
    data = run.model_dump()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        if needs:
            click.echo(f"note: to run, this config needs: {needs}", err=True)
        return
    from i2i_core.config.schema import DataConfig, TrainerConfig

    docs = {"data": DataConfig.model_fields, "trainer": TrainerConfig.model_fields,
            "model": eng.recipe_class(recipe).Config.model_fields}
    table = Table(title=f"{recipe}" + (f" --preset {preset}" if preset else ""))
    for col in ("key", "value", "description"):
        table.add_column(col, overflow="fold")
    for section in ("model", "data", "trainer"):
        for key, value in data[section].items():
            field = docs[section].get(key)
            table.add_row(f"{section}.{key}", json.dumps(value), (field.description or "") if field else "")
    console.print(table)
    if needs:
        click.echo(f"note: to run, this config needs: {needs}")


# --- training -----------------------------------------------------------------------


@cli.command("run")
@click.argument("recipe")
@click.option("--preset", help="named preset of the recipe (see `i2i list-presets`)")
@click.option("--data", "data_root", type=click.Path(), help="data folder (sets data.root)")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML or JSON config file")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="override, e.g. trainer.lr=1e-4 (repeatable)")
@click.option("--out", type=click.Path(file_okay=False), help="run folder (default runs/RECIPE-PRESET)")
@click.option("--resume", help="auto (continue --out if it holds a checkpoint) or a run folder/checkpoint")
@click.option("--init-from", help="seed the networks from this run where names and sizes match")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]))
@click.option("--fast", is_flag=True, default=None,
              help="trainer.profile=fast: what measures faster on this device (not bit-exact; see docs/speed.md)")
@click.option("--device", help="auto, cpu, cuda or cuda:N")
@click.option("--ema", "ema_decay", type=click.FloatRange(0, 1, min_open=True, max_open=True), is_flag=False,
              flag_value=0.999, metavar="[DECAY]",
              help="keep a generator EMA that translate/eval use: trainer.ema_decay=DECAY (0.999 when bare)")
@click.option("--progress/--no-progress", default=None, help="rich progress bar (default: when on a terminal)")
@click.pass_context
def run_cmd(ctx: click.Context, recipe: str, preset: str | None, data_root: str | None, config_file: str | None,
            sets: tuple[str, ...], out: str | None, resume: str | None, init_from: str | None,
            precision: str | None, fast: bool | None, device: str | None, ema_decay: float | None,
            progress: bool | None) -> None:
    """Train RECIPE, then score the held-out split and write RUN/index.html."""
    overrides = list(sets)
    for key, value in (("data.root", data_root), ("trainer.init_from", init_from),
                       ("trainer.precision", precision), ("trainer.device", device),
                       ("trainer.profile", "fast" if fast else None), ("trainer.ema_decay", ema_decay)):
        if value is not None:
            overrides.append(f"{key}={value}")
    from i2i_core.assembly.run import plan_run, train

    engine = _engine(ctx)
    plan = plan_run(engine.registries, recipe, preset, config_file=config_file, overrides=overrides, out=out,
                    resume=resume)  # the config, resolved once, goes down: run -> trainer
    result = train(engine, plan, progress=progress)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports for the job
        return
    m = result.metrics
    if m:
        table = Table(title=f"held-out scores ({int(m.get('images', 0))} images)")
        for col in ("metric", "model", "identity baseline"):
            table.add_column(col)
        for name in ("psnr", "ssim"):
            base = m.get(f"baseline_{name}")
            table.add_row(name.upper(), f"{m[name]:.4f}", "" if base is None else f"{base:.4f}")
        console.print(table)
    console.print(f"results: {result.run_dir / 'index.html'}")


# --- inference and conversion ---------------------------------------------------------


def _bytes(text: str | None) -> int | None:
    """``2GiB``, ``512MB``, ``1e9`` -> bytes."""
    if text is None:
        return None
    units = {"kib": 2**10, "mib": 2**20, "gib": 2**30, "kb": 10**3, "mb": 10**6, "gb": 10**9, "b": 1, "": 1}
    raw = text.strip().lower()
    number = raw.rstrip("kmgib")
    try:
        return int(float(number) * units[raw[len(number):]])
    except (KeyError, ValueError):
        raise click.BadParameter(f"{text!r}: expected a size such as 2GiB, 512MiB or 1e9", param_hint="--max-memory") from None


class _Bar:
    """A rich progress bar on a terminal (``--progress`` forces it, ``--no-progress`` hides it)."""

    def __init__(self, label: str, enabled: bool | None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress: Progress | None = None
        if enabled or (enabled is None and console.is_terminal):
            self.progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                     console=_rich_console(), transient=True)
        self.task: TaskID | None = None

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.__enter__()
            self.task = self.progress.add_task("", total=None)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def total(self, n: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, total=n)

    def advance(self, n: int = 1) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, n)


@cli.command("translate")
@click.option("--checkpoint", required=True, type=click.Path(exists=True), help="run folder or .safetensors file")
@click.option("--input", "input_spec", required=True, help="image file, folder, glob, or a data root in the reader's layout")
@click.option("--output", required=True, type=click.Path(), help="output folder (created)")
@click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), help="which way to translate (CycleGAN)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="config override, e.g. model.eval_mode=true")
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True)
@click.option("--resize", help="WxH, or 'train' for the training preprocessing (default: each input's own size)")
@click.option("--tile", help="tile side in pixels, or 'auto' (largest that fits --max-memory); default: one pass")
@click.option("--overlap", type=click.IntRange(0), default=64, show_default=True, help="pixels shared by neighbouring tiles")
@click.option("--max-memory", help="activation budget for --tile auto, e.g. 2GiB")
@click.option("--norm-stats", type=click.Choice(["global", "tile"]), default="global", show_default=True,
              help="tiles: per-image norm layers use whole-image statistics (exact) or each tile's own (faster)")
@click.option("--output-format", type=click.Choice(["auto", "png", "tif", "jpg"]), default="auto", show_default=True,
              help="auto: PNG at the input's depth (8/16-bit), TIFF for float or more than 4 channels")
@click.option("--value-range", nargs=2, type=float, help="LO HI of float inputs/outputs (default: data.value_range)")
@click.option("--batch-size", type=click.IntRange(1), default=4, show_default=True, help="inputs of equal size per batch")
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True, help="decoding threads")
@click.option("--progress/--no-progress", default=None, help="rich progress bar (default: when on a terminal)")
@click.option("--ema/--no-ema", default=True, show_default=True,
              help="use the generators' moving average when the checkpoint keeps one (trainer.ema_decay)")
@click.pass_context
def translate(ctx: click.Context, checkpoint: str, input_spec: str, output: str, direction: str | None,
              sets: tuple[str, ...], device: str, precision: str, resize: str | None, tile: str | None, overlap: int,
              max_memory: str | None, norm_stats: str, output_format: str, value_range: tuple[float, float] | None,
              batch_size: int, workers: int, progress: bool | None, ema: bool) -> None:
    """Translate images at their own size and depth with a trained (or imported) checkpoint."""
    import time
    import warnings

    from i2i_core.inference.translator import TranslateNote, Translator

    if tile is not None and tile != "auto" and not tile.isdigit():
        raise click.BadParameter(f"{tile!r}: expected a number of pixels or 'auto'", param_hint="--tile")
    overrides = list(sets) + ([f"data.direction={direction}"] if direction else [])
    translator = Translator.from_run(checkpoint, device=device, precision=precision, overrides=overrides,
                                     engine=_engine(ctx), ema=ema, tile=tile, overlap=overlap, max_memory=_bytes(max_memory),
                                     norm_stats=norm_stats, resize=resize, value_range=value_range)
    notes: set[str] = set()
    start = time.perf_counter()
    with _Bar("translate", progress) as bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TranslateNote)
        written = translator.folder(input_spec, output, batch_size=batch_size, workers=workers,
                                    output_format=output_format, progress=bar.advance, on_total=bar.total)
    for w in caught:
        if issubclass(w.category, TranslateNote) and str(w.message) not in notes:
            notes.add(str(w.message))
            console.print(f"note: {w.message}")
    seconds = time.perf_counter() - start
    console.print(f"wrote {len(written)} image(s) to {output} ({len(written) / max(seconds, 1e-9):.2f} images/s)")


@cli.command("export")
@click.argument("run", type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript", "exported-program"]), default="onnx",
              show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="file to write")
@click.option("--dynamic/--static", default=True, show_default=True, help="dynamic batch, height and width")
@click.option("--fp16", is_flag=True, help="half-precision weights and input")
@click.option("--size", type=click.IntRange(1), help="example input side for tracing (default: the training crop)")
@click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), help="which generator (CycleGAN)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="config override, e.g. model.eval_mode=true")
@click.option("--progress/--no-progress", default=None, help="rich progress bar (default: when on a terminal)")
@click.pass_context
def export_cmd(ctx: click.Context, run: str, fmt: str, output: str, dynamic: bool, fp16: bool, size: int | None,
               direction: str | None, sets: tuple[str, ...], progress: bool | None) -> None:
    """Write RUN's generator as a self-describing ONNX, TorchScript or torch.export file."""
    from i2i_core.inference.export import export_run

    overrides = list(sets) + ([f"data.direction={direction}"] if direction else [])
    with _Bar(f"export {fmt}", progress) as bar:
        bar.total(1)
        info = export_run(run, output, fmt=fmt, dynamic=dynamic, fp16=fp16, size=size, overrides=overrides,
                          engine=_engine(ctx))
        bar.advance()
    console.print(f"wrote {output} ({info['inputs']}; size multiple {info['size_multiple']})")


@cli.command("import-checkpoint")
@click.option("--from", "source", required=True, help="importer name (see `i2i list-models --kind importers`)")
@click.option("--arch", default=None, help="architecture of the file, e.g. unet_256 (importers that infer it need none)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="config override for the new run")
@click.option("--force", is_flag=True, help="replace the checkpoints and config of a run already in OUT")
@click.option("--progress/--no-progress", default=None, help="rich progress bar (default: when on a terminal)")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
@click.argument("out", type=click.Path(file_okay=False))
@click.pass_context
def import_checkpoint(ctx: click.Context, source: str, arch: str | None, sets: tuple[str, ...], force: bool,
                      progress: bool | None, files: tuple[str, ...], out: str) -> None:
    """Convert official checkpoint FILES into an i2i run folder OUT (usable by `i2i translate`)."""
    import shutil

    from i2i_core.inference.loading import IMPORT_PHASES, import_official
    from i2i_core.io.runlock import RunLock

    target = Path(out)
    with RunLock(target, "OUT"):
        holds = (target / "config.json").is_file() or (
            (target / "checkpoints").is_dir() and any((target / "checkpoints").iterdir()))
        if holds and not force:
            raise click.ClickException(f"{target} already holds a run; pass --force to replace it or pick another OUT")
        if holds:
            shutil.rmtree(target / "checkpoints", ignore_errors=True)
        with _Bar("import", progress) as bar:
            bar.total(len(IMPORT_PHASES))
            path = import_official(_engine(ctx), source, arch, [Path(f) for f in files], target, list(sets),
                                   on_phase=lambda name: bar.advance() if name != IMPORT_PHASES[0] else None)
            bar.advance()
    console.print(f"wrote {path}")


@cli.command("eval")
@click.argument("checkpoint")
@click.option("--data", "data_root", help="data root to score (default: the run's own held-out data)")
@click.option("--split", help="split to score (default: data.test_split)")
@click.option("--metrics", "metric_spec", default="psnr,ssim", show_default=True, help="any of fid,kid,lpips,psnr,ssim")
@click.option("--max-images", type=click.IntRange(min=1), help="score at most N items (default trainer.eval_max_images)")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--inception-weights", help="torch-fidelity InceptionV3 weights for FID/KID (or $I2I_WEIGHTS_DIR)")
@click.option("--lpips-weights", help="torchvision AlexNet weights for LPIPS (or $I2I_WEIGHTS_DIR)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="config override, e.g. data.direction=BtoA")
@click.option("--device", default="auto")
@click.option("--out", type=click.Path(file_okay=False), help="write metrics.json + eval/ here (default: the run folder)")
@click.option("--json", "as_json", is_flag=True, help="print the scores as JSON")
@click.option("--ema/--no-ema", default=True, show_default=True,
              help="score the generators' moving average when the checkpoint keeps one (trainer.ema_decay)")
@click.pass_context
def eval_cmd(ctx: click.Context, checkpoint: str, data_root: str | None, split: str | None, metric_spec: str,
             max_images: int | None, batch_size: int, inception_weights: str | None, lpips_weights: str | None,
             sets: tuple[str, ...], device: str, out: str | None, as_json: bool, ema: bool) -> None:
    """Score CHECKPOINT (a run folder, RUN@best or a .safetensors file) on held-out data."""
    from i2i_core.inference.loading import evaluate_checkpoint

    scores, folder = evaluate_checkpoint(
        _engine(ctx), checkpoint, data_root=data_root, split=split, metrics=metric_spec, max_images=max_images,
        batch_size=batch_size, device=device, overrides=sets, inception_weights=inception_weights,
        lpips_weights=lpips_weights, out_dir=out, ema=ema)
    if as_json:
        click.echo(scores.to_json())
        return
    table = Table(title=f"held-out scores ({int(scores['images'])} images, {scores['seconds']:.1f} s)")
    for col in ("metric", "model", "identity baseline"):
        table.add_column(col)
    for key in sorted(k for k in scores if not k.startswith("baseline_") and k not in ("images", "seconds")):
        base = scores.get(f"baseline_{key}")
        table.add_row(key, f"{scores[key]:.4f}", "" if base is None else f"{base:.4f}")
    console.print(table)
    for key, note in scores.notes.items():
        console.print(f"[dim]{key}: {note}[/dim]")
    if folder is not None:
        console.print(f"wrote {folder / 'metrics.json'}")


# --- entry point ----------------------------------------------------------------------


def _add_plugin_commands(engine: Engine, group: click.Group | None = None) -> None:
    """Add every plugin's commands to ``group`` (default: ``cli``): entry points, then the hook."""
    target = cli if group is None else group
    if isinstance(target, _Group):
        target.load_hook_commands(engine, again=True)
        return
    for impl in reversed(engine.pm.hook.register_commands.get_hookimpls()):
        impl.function(target)


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: parse, then build the Engine only if the command needs it."""
    # before torch loads its OpenMP/MKL runtimes: a loaded machine must not shrink a parallel region (another
    # summation order, another trajectory: docs/runs.md); a value the user set wins
    os.environ.setdefault("OMP_DYNAMIC", "FALSE")
    os.environ.setdefault("MKL_DYNAMIC", "FALSE")
    if os.environ.get("I2I_DEBUG"):  # rich tracebacks only when asked for (importing rich costs start-up time)
        from rich.traceback import install

        install(suppress=[click], show_locals=False)
    return cli.main(args=argv if argv is not None else sys.argv[1:], obj=_State(), prog_name="i2i")
