"""The engine: one plugin manager, its registries, and the entry points of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import pluggy
import torch

from i2i_core.config.resolution import Overrides, resolve_config, validate
from i2i_core.config.schema import RunConfig
from i2i_core.recipe import defaults
from i2i_core.recipe.contract import BuildContext, Recipe
from i2i_core.registry.plugins import BrokenPlugin, make_plugin_manager
from i2i_core.registry.registries import Registries, build_registries
from i2i_core.training import progress

if TYPE_CHECKING:
    from i2i_core.assembly.run import RunResult


class Engine:
    """Plugin host: the plugin manager, the registries its plugins fill, config resolution.

    Args:
        plugins: extra plugin objects (modules or instances with ``@hookimpl``s).
        autoload: load installed plugins from the ``i2i`` entry points.
        warn: print one line per plugin that failed to load.

    Example:
        >>> engine = Engine(autoload=False)
        >>> "adam" in engine.registries.optimizers
        True
    """

    def __init__(self, plugins: Iterable[object] = (), *, autoload: bool = True, warn: bool = True) -> None:
        self.pm: pluggy.PluginManager
        self.loaded: dict[str, tuple[str, str]]
        self.broken: list[BrokenPlugin]
        self.pm, self.loaded, self.broken = make_plugin_manager(
            autoload=autoload, plugins=list(plugins), default_plugins=(defaults, progress), warn=warn)
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
        """The recipe class registered as ``name`` (did-you-mean on a typo)."""
        return self.registries.recipes.get(name)

    def resolve_config(self, recipe: str, preset: str | None = None, config_file: str | None = None,
                       overrides: Overrides | None = None, base: dict[str, Any] | None = None, *,
                       cross_checks: bool = True) -> RunConfig:
        """Defaults < preset chain < file < overrides, validated once: :func:`i2i_core.config.resolution.resolve_config`."""
        return resolve_config(self.registries, recipe, preset, config_file, overrides, base,
                              cross_checks=cross_checks)

    def validate(self, merged: dict[str, Any], *, cross_checks: bool = True) -> RunConfig:
        """Validate an already merged config dict (a saved run's): :func:`i2i_core.config.resolution.validate`."""
        return validate(self.registries, merged, cross_checks=cross_checks)

    # --- building ------------------------------------------------------------
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

    def run(self, recipe: str, preset: str | None = None, **kwargs: Any) -> RunResult:
        """Train ``recipe`` end to end: :func:`~i2i_core.assembly.run.run` (plan once, then train) with this engine.

        Keyword arguments: ``config_file``, ``overrides``, ``out``, ``resume``, ``progress``, ``callbacks``.
        """
        # imported here for start-up time only (run -> trainer -> data, evaluate, report): commands that
        # list or show things build an Engine but never train
        from i2i_core.assembly.run import run

        return run(self, recipe, preset, **kwargs)
