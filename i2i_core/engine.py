"""The engine: one plugin manager, its registries, and config resolution."""

from __future__ import annotations

from typing import Any, Iterable

import pluggy
import torch
from pydantic import BaseModel, ValidationError

from .config import RunConfig, deep_merge, format_validation_error, load_config_file, parse_set
from .errors import ConfigError
from .recipe import BuildContext, Recipe
from .registry.plugins import BrokenPlugin, make_plugin_manager
from .registry.registries import Registries, build_registries


class Engine:
    """Plugin host and config resolver.

    Args:
        plugins: extra plugin objects (modules or instances with ``@hookimpl``s).
        autoload: load installed plugins from the ``i2i`` entry points.

    Example:
        >>> engine = Engine(autoload=False)
        >>> "adam" in engine.registries.optimizers
        True
    """

    def __init__(self, plugins: Iterable[object] = (), *, autoload: bool = True, warn: bool = True) -> None:
        from . import defaults, progress

        self._extra = list(plugins)
        self.pm: pluggy.PluginManager
        self.pm, self.loaded, self.broken = make_plugin_manager(
            autoload=autoload, plugins=self._extra, default_plugins=(defaults, progress), warn=warn)
        self._registries: Registries | None = None

    @property
    def registries(self) -> Registries:
        """Registries built lazily from the registration hooks (cached)."""
        if self._registries is None:
            self._registries = build_registries(self.pm)
        return self._registries

    def register(self, plugin: object, name: str | None = None) -> None:
        """Add a plugin to this engine and rebuild the registries."""
        self.pm.register(plugin, name=name)
        self.refresh()

    def refresh(self) -> None:
        """Forget the cached registries (they are rebuilt on next use)."""
        self._registries = None

    # --- configuration -------------------------------------------------------
    def recipe_class(self, name: str) -> type[Recipe]:
        return self.registries.recipes.get(name)

    def resolve_config(
        self,
        recipe: str,
        preset: str | None = None,
        config_file: str | None = None,
        overrides: dict | list[str] | tuple[str, ...] | None = None,
        base: dict | None = None,
    ) -> RunConfig:
        """Merge defaults < recipe defaults < preset < file < overrides; validate once.

        ``overrides`` is a nested dict, or a list of ``a.b=c`` strings as ``--set`` takes.
        ``base`` replaces the recipe defaults (used to resume from a saved config).
        """
        cls = self.recipe_class(recipe)
        merged: dict[str, Any] = {"recipe": recipe, "preset": preset}
        merged = deep_merge(merged, base if base is not None else getattr(cls, "defaults", {}) or {})
        if preset:
            merged = deep_merge(merged, self.preset_overrides(recipe, preset))
        if config_file:
            merged = deep_merge(merged, load_config_file(config_file))
        if overrides:
            if not isinstance(overrides, dict):
                overrides = parse_set(list(overrides))
            merged = deep_merge(merged, overrides)
        merged["recipe"], merged["preset"] = recipe, preset
        return self.validate(merged)

    def preset_overrides(self, recipe: str, preset: str, _seen: tuple[str, ...] = ()) -> dict:
        """A preset's overrides, with ``"extends": "other"`` resolved (other preset of the same recipe)."""
        if preset in _seen:
            raise ConfigError(f"preset {recipe}/{preset} extends itself (chain: {' -> '.join(_seen + (preset,))})")
        own = dict(self.registries.presets.lookup(recipe, preset).obj)
        parent = own.pop("extends", None)
        if parent is None:
            return own
        return deep_merge(self.preset_overrides(recipe, parent, _seen + (preset,)), own)

    def validate(self, merged: dict, *, cross_checks: bool = True) -> RunConfig:
        """Validate a merged dict: the run sections and ``model`` (by the recipe's Config) together.

        Every problem is reported at once, in one line; ``cross_checks=False`` skips the
        recipe's ``validate_run`` (``show-config`` of a staged preset).
        """
        cls = self.recipe_class(merged.get("recipe", ""))
        problems: list[str] = []
        run = model = None
        try:
            run = RunConfig.model_validate(merged)
        except ValidationError as exc:
            problems.append(format_validation_error(exc, model=RunConfig))
        try:
            model = cls.Config.model_validate(merged.get("model") or {})
        except ValidationError as exc:
            problems.append(format_validation_error(exc, prefix="model", model=cls.Config))
        if problems:
            count = sum(p.count("; ") + 1 for p in problems)
            raise ConfigError(f"invalid config{f' ({count} problems)' if count > 1 else ''}: {'; '.join(problems)}")
        assert run is not None and model is not None
        run.model = model.model_dump()
        if cross_checks:
            cls.validate_run(run)
        return run

    def make_recipe(self, run: RunConfig) -> Recipe:
        """Instantiate (not build) the recipe of a resolved run config."""
        cls = self.recipe_class(run.recipe)
        return cls(cls.Config.model_validate(run.model))

    def build_recipe(self, run: RunConfig, device: torch.device | str = "cpu", training: bool = True) -> Recipe:
        """Instantiate and build the recipe's networks and optimizers on ``device``."""
        recipe = self.make_recipe(run)
        torch.manual_seed(run.trainer.seed)  # same seed, same initial weights
        ctx = BuildContext(self.registries, run.trainer, run.data, torch.device(device), training)
        recipe.setup(ctx)
        for net in recipe.nets.values():
            net.to(ctx.device)
        return recipe

    def model_config(self, recipe: str, **values: Any) -> BaseModel:
        """The recipe's validated ``Config`` with ``values`` set."""
        return self.recipe_class(recipe).Config.model_validate(values)

    def broken_plugins(self) -> list[BrokenPlugin]:
        return list(self.broken)


    def run(self, recipe: str, preset: str | None = None, **kwargs: Any) -> Any:
        """Train ``recipe`` end to end; see :func:`i2i_core.run.run` for the arguments."""
        from .run import run

        return run(self, recipe, preset, **kwargs)
