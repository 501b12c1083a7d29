"""i2i: GAN image-to-image translation engine (core).

The core owns the registries, plugin hooks, config, trainer, checkpoints and CLI;
models, losses, readers and recipes come from plugins (``i2i`` entry points).

Every public name is imported on first use (module ``__getattr__``): ``import i2i_core``
alone loads neither torch nor pydantic, so ``i2i --help`` answers at once, while
``from i2i_core import Engine, Trainer, hookimpl`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the submodule that defines it
_EXPORTS: dict[str, str] = {
    "BuildContext": "recipe", "Modules": "recipe", "Recipe": "recipe", "RecipeConfig": "recipe",
    "StepContext": "recipe", "Inference": "recipe", "detach_losses": "recipe", "losses_as_floats": "recipe",
    "DataConfig": "config", "RunConfig": "config", "TrainerConfig": "config",
    "Engine": "engine", "Trainer": "trainer", "Translator": "translator",
    "CheckpointError": "errors", "ConfigError": "errors", "DataError": "errors", "DuplicateNameError": "errors",
    "I2IError": "errors", "PluginLoadError": "errors", "UnknownNameError": "errors",
    "Entry": "registry", "Registries": "registry", "Registry": "registry",
    "hookimpl": "registry._markers", "hookspec": "registry._markers",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'i2i_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from .config import DataConfig, RunConfig, TrainerConfig
    from .engine import Engine
    from .errors import (
        CheckpointError,
        ConfigError,
        DataError,
        DuplicateNameError,
        I2IError,
        PluginLoadError,
        UnknownNameError,
    )
    from .recipe import (
        BuildContext,
        Inference,
        Modules,
        Recipe,
        RecipeConfig,
        StepContext,
        detach_losses,
        losses_as_floats,
    )
    from .registry import Entry, Registries, Registry
    from .registry._markers import hookimpl, hookspec
    from .trainer import Trainer
    from .translator import Translator

__all__ = [
    "BuildContext", "CheckpointError", "ConfigError", "DataConfig", "DataError", "DuplicateNameError", "Engine",
    "Entry", "I2IError", "Inference", "Modules", "PluginLoadError", "Recipe", "RecipeConfig", "Registries", "Registry",
    "RunConfig", "StepContext", "Trainer", "TrainerConfig", "Translator", "UnknownNameError", "__version__",
    "detach_losses", "losses_as_floats",
    "hookimpl", "hookspec",
]
