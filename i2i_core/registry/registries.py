"""The set of registries one engine fills from its plugins' registration hooks."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable

import pluggy

from i2i_core.base.errors import DuplicateNameError, UnknownNameError
from i2i_core.registry._registry import Entry, Registry, did_you_mean
from i2i_core.registry.hookspecs import RegisterArchitecture, RegisterComponent, RegisterDataset

if TYPE_CHECKING:
    import torch
    from torch import nn

    from i2i_core.recipe.contract import Recipe

ROLES = ("generator", "discriminator", "encoder", "other")


class PresetRegistry(Registry[dict]):
    """Presets: ``(recipe, preset) -> nested overrides``, stored as ``recipe/preset``."""

    def __init__(self) -> None:
        super().__init__("preset", "presets: nested override dicts merged over a recipe's defaults")

    def add_preset(
        self, recipe: str, preset: str, overrides: dict, *, description: str = "",
        plugin: str | None = None, replace: bool = False,
    ) -> None:
        if not isinstance(overrides, dict):
            raise TypeError(f"preset {recipe}/{preset}: overrides must be a dict, got {type(overrides).__name__}")
        self.add(f"{recipe}/{preset}", overrides, description=description, plugin=plugin,
                 replace=replace, recipe=recipe, preset=preset)

    def for_recipe(self, recipe: str) -> list[Entry[dict]]:
        return [e for e in self.entries() if e.recipe == recipe]

    def lookup(self, recipe: str, preset: str) -> Entry[dict]:
        key = f"{recipe}/{preset}"
        if key in self:
            return self.entry(key)
        stem = preset.removesuffix("_ema")
        if stem != preset and f"{recipe}/{stem}" in self:
            # the NAME_ema twins were dropped when EMA became a setting of any preset
            raise UnknownNameError(f"preset {preset!r} is gone: use --preset {stem} --ema "
                                   f"(or set trainer.ema_decay)")
        names = [e.preset or e.name for e in self.for_recipe(recipe)]
        msg = f"Unknown preset {preset!r} for recipe {recipe!r}." + did_you_mean(preset, names, cutoff=0.5)
        msg += f" Available: {', '.join(names) or 'none'} (see `i2i list-presets`)"
        raise UnknownNameError(msg)


@dataclass
class Registries:
    """Every registry of one engine, filled by :func:`build_registries`."""

    architectures: Registry[Callable[..., nn.Module]] = field(default_factory=lambda: Registry(
        "architecture", "architectures: builder(**kwargs) -> nn.Module; kwargs from the recipe config"))
    losses: Registry[Callable[..., nn.Module]] = field(default_factory=lambda: Registry(
        "loss", "losses: builder(**kwargs) -> nn.Module"))
    optimizers: Registry[Callable[..., torch.optim.Optimizer]] = field(default_factory=lambda: Registry(
        "optimizer", "optimizers: builder(params, **kwargs) -> torch.optim.Optimizer"))
    datasets: Registry[Callable[..., Any]] = field(default_factory=lambda: Registry(
        "dataset", "datasets: builder(cfg: DataConfig, split: str) -> Dataset of dicts"))
    recipes: Registry[type[Recipe]] = field(default_factory=lambda: Registry(
        "recipe", "recipes: subclasses of i2i_core.Recipe"))
    presets: PresetRegistry = field(default_factory=PresetRegistry)
    importers: Registry[Callable[..., Any]] = field(default_factory=lambda: Registry(
        "importer", "importers: importer(path, arch, **kwargs) -> ImportedWeights"))
    loggers: Registry[Callable[..., Any]] = field(default_factory=lambda: Registry(
        "logger", "loggers: builder(run_dir: Path, config: RunConfig) -> object with @hookimpl lifecycle methods"))
    errors: list[tuple[str, str, BaseException]] = field(default_factory=list)

    def kinds(self) -> dict[str, Registry[Any]]:
        return {
            "recipes": self.recipes, "architectures": self.architectures, "losses": self.losses,
            "optimizers": self.optimizers, "datasets": self.datasets, "presets": self.presets,
            "importers": self.importers, "loggers": self.loggers,
        }


def _architecture_adder(reg: Registry[Any], plugin: str) -> RegisterArchitecture:
    def register(name: str, builder: Callable[..., nn.Module], *, role: str = "generator", description: str = "",
                 aliases: Iterable[str] = (), replace: bool = False) -> None:
        if role not in ROLES:
            raise ValueError(f"architecture {name!r}: role must be one of {ROLES}, got {role!r}")
        reg.add(name, builder, description=description, aliases=aliases, replace=replace,
                plugin=plugin, role=role)
    return register


def _dataset_adder(reg: Registry[Any], plugin: str) -> RegisterDataset:
    def register(name: str, builder: Callable[..., Any], *, description: str = "", aliases: Iterable[str] = (),
                 replace: bool = False, training: bool = True) -> None:
        reg.add(name, builder, description=description or _first_doc_line(builder), aliases=aliases,
                replace=replace, plugin=plugin, training=training)
    return register


def _simple_adder(reg: Registry[Any], plugin: str) -> RegisterComponent:
    def register(name: str, obj: Any, *, description: str = "", aliases: Iterable[str] = (),
                 replace: bool = False) -> None:
        reg.add(name, obj, description=description or _first_doc_line(obj), aliases=aliases, replace=replace,
                plugin=plugin)
    return register


def _first_doc_line(obj: object) -> str:
    return (getattr(obj, "__doc__", None) or "").strip().split("\n")[0]


def build_registries(pm: pluggy.PluginManager) -> Registries:
    """Fill fresh registries by calling each registration hook one impl at a time.

    A plugin whose registration raises is recorded in ``Registries.errors`` and
    skipped; a duplicate name is always an error naming both plugins.
    """
    regs = Registries()
    plan: list[tuple[str, Callable[[str], Callable[..., None]]]] = [
        ("register_architectures", lambda p: _architecture_adder(regs.architectures, p)),
        ("register_losses", lambda p: _simple_adder(regs.losses, p)),
        ("register_optimizers", lambda p: _simple_adder(regs.optimizers, p)),
        ("register_datasets", lambda p: _dataset_adder(regs.datasets, p)),
        ("register_recipes", lambda p: _simple_adder(regs.recipes, p)),
        ("register_presets", lambda p: partial(regs.presets.add_preset, plugin=p)),
        ("register_importers", lambda p: _simple_adder(regs.importers, p)),
        ("register_loggers", lambda p: _simple_adder(regs.loggers, p)),
    ]
    trace = bool(os.environ.get("I2I_TRACE_PLUGINS"))
    for hook_name, make_register in plan:
        caller = getattr(pm.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):  # registration order = load order
            if trace:
                print(f"[i2i trace] {hook_name} <- {impl.plugin_name}", file=sys.stderr)
            try:
                impl.function(make_register(impl.plugin_name))
            except DuplicateNameError:
                raise
            except Exception as exc:  # a broken plugin must not take the others down
                if os.environ.get("I2I_STRICT_PLUGINS") == "1":
                    raise
                regs.errors.append((impl.plugin_name, hook_name, exc))
    return regs
