"""i2i: GAN image-to-image translation engine (core).

The core owns the registries, plugin hooks, config, trainer, checkpoints and CLI;
models, losses, readers and recipes come from plugins (``i2i`` entry points).
"""

from __future__ import annotations

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
from .recipe import BuildContext, Modules, Recipe, RecipeConfig, StepContext
from .registry import Entry, Registries, Registry
from .registry._markers import hookimpl, hookspec

__version__ = "0.1.0"


def __getattr__(name: str):  # the trainer pulls in rich and the loop; import on first use
    if name == "Trainer":
        from .trainer import Trainer

        return Trainer
    if name == "Translator":
        from .translator import Translator

        return Translator
    raise AttributeError(name)


__all__ = [
    "BuildContext", "CheckpointError", "ConfigError", "DataConfig", "DataError", "DuplicateNameError",
    "Engine", "Entry", "I2IError", "Modules", "PluginLoadError", "Recipe", "RecipeConfig", "Registries",
    "Registry", "RunConfig", "StepContext", "Trainer", "TrainerConfig", "Translator", "UnknownNameError",
    "__version__", "hookimpl", "hookspec",
]
