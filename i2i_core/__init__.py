"""i2i: GAN image-to-image translation engine (core).

The core owns the registries, plugin hooks, config, trainer, checkpoints and CLI;
models, losses, readers and recipes come from plugins (``i2i`` entry points).

**The public surface.** Every name in ``__all__`` below is the stable API for plugins,
recipe scripts, importers and loggers (docs/plugins.md lists it with one line each);
tests may also use :mod:`i2i_core.testing`. Nothing else in the core is a plugin's to
import: the subpackages behind these names may move. ``tests/test_public_surface.py``
holds the plugins, the examples and the docs to that.

Every public name is imported on first use (module ``__getattr__``): ``import i2i_core``
alone loads neither torch nor pydantic, so ``i2i --help`` answers at once, while
``from i2i_core import Engine, Trainer, hookimpl`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: defining module -> the public names it provides, grouped as docs/plugins.md lists them
_SOURCES: dict[str, tuple[str, ...]] = {
    # building recipes
    "recipe.contract": ("Recipe", "RecipeConfig", "BuildContext", "StepContext", "Modules", "Inference",
                        "InferenceSpec", "ExportGraph", "detach_losses", "losses_as_floats"),
    "recipe.losses": ("GANLoss", "gradient_penalty"),
    "recipe.image_pool": ("ImageHistory", "ImagePool", "ImageBuffer"),
    "recipe.image_gan": ("ImageGANConfig", "NormName", "GANMode"),
    # configs
    "config.schema": ("RunConfig", "DataConfig", "TrainerConfig", "deep_merge", "parse_set",
                      "format_validation_error"),
    # errors
    "base.errors": ("I2IError", "ConfigError", "DataError", "CheckpointError", "UnknownNameError",
                    "DuplicateNameError", "PluginLoadError", "DivergenceError", "TrainingInterrupted", "first_line"),
    # registries, hooks and the engine that runs them
    "registry._markers": ("hookimpl", "hookspec"),
    "registry._registry": ("Entry", "Registry"),
    "registry.registries": ("Registries",),
    "registry.helpers": ("register_presets", "register_table", "set_reader_channels", "check_channels"),
    "assembly.engine": ("Engine",),
    "training.trainer": ("Trainer",),
    # checkpoints and importers of official weights
    "io.checkpoint": ("ImportedWeights", "read_official_state", "drop_stale_instance_norm", "describe_key_mismatch",
                      "find_weights", "load_weights", "save_weights", "save_state", "load_state"),
    # images on disk
    "io.images": ("IMAGE_SUFFIXES", "Decoded", "read_image", "write_image", "to_unit", "normalize", "fit_channels", "png_bit_depth",
                  "write_png16"),
    # evaluation
    "evaluation.evaluate": ("evaluate",),
    "evaluation.metrics": ("psnr", "ssim", "write_random_weights"),
    # inference
    "inference.translator": ("Translator",),
    "inference.loading": ("load_for_inference", "import_official"),
}
_EXPORTS: dict[str, str] = {name: module for module, names in _SOURCES.items() for name in names}


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
    from i2i_core.assembly.engine import Engine
    from i2i_core.base.errors import (
        CheckpointError,
        ConfigError,
        DataError,
        DivergenceError,
        DuplicateNameError,
        I2IError,
        PluginLoadError,
        TrainingInterrupted,
        UnknownNameError,
        first_line,
    )
    from i2i_core.config.schema import (
        DataConfig,
        RunConfig,
        TrainerConfig,
        deep_merge,
        format_validation_error,
        parse_set,
    )
    from i2i_core.evaluation.evaluate import evaluate
    from i2i_core.evaluation.metrics import psnr, ssim, write_random_weights
    from i2i_core.inference.loading import import_official, load_for_inference
    from i2i_core.inference.translator import Translator
    from i2i_core.io.checkpoint import (
        ImportedWeights,
        describe_key_mismatch,
        drop_stale_instance_norm,
        find_weights,
        load_state,
        load_weights,
        read_official_state,
        save_state,
        save_weights,
    )
    from i2i_core.io.images import (
        IMAGE_SUFFIXES,
        Decoded,
        fit_channels,
        normalize,
        png_bit_depth,
        read_image,
        to_unit,
        write_image,
        write_png16,
    )
    from i2i_core.recipe.contract import (
        BuildContext,
        ExportGraph,
        Inference,
        InferenceSpec,
        Modules,
        Recipe,
        RecipeConfig,
        StepContext,
        detach_losses,
        losses_as_floats,
    )
    from i2i_core.recipe.image_gan import GANMode, ImageGANConfig, NormName
    from i2i_core.recipe.image_pool import ImageBuffer, ImageHistory, ImagePool
    from i2i_core.recipe.losses import GANLoss, gradient_penalty
    from i2i_core.registry._markers import hookimpl, hookspec
    from i2i_core.registry._registry import Entry, Registry
    from i2i_core.registry.helpers import check_channels, register_presets, register_table, set_reader_channels
    from i2i_core.registry.registries import Registries
    from i2i_core.training.trainer import Trainer

__all__ = [
    "__version__",
    # building recipes
    "Recipe", "RecipeConfig", "BuildContext", "StepContext", "Modules", "Inference", "InferenceSpec",
    "ExportGraph", "detach_losses", "losses_as_floats", "GANLoss", "gradient_penalty", "ImageHistory", "ImagePool",
    "ImageBuffer", "ImageGANConfig", "NormName", "GANMode",
    # configs
    "RunConfig", "DataConfig", "TrainerConfig", "deep_merge", "parse_set", "format_validation_error",
    # errors
    "I2IError", "ConfigError", "DataError", "CheckpointError", "UnknownNameError", "DuplicateNameError",
    "PluginLoadError", "DivergenceError", "TrainingInterrupted", "first_line",
    # registries, hooks and the engine that runs them
    "hookimpl", "hookspec", "Entry", "Registry", "Registries", "register_presets", "register_table",
    "set_reader_channels", "check_channels", "Engine", "Trainer",
    # checkpoints and importers of official weights
    "ImportedWeights", "read_official_state", "drop_stale_instance_norm", "describe_key_mismatch", "find_weights",
    "load_weights", "save_weights", "save_state", "load_state",
    # images on disk
    "IMAGE_SUFFIXES", "Decoded", "read_image", "write_image", "to_unit", "normalize", "fit_channels", "png_bit_depth",
    "write_png16",
    # evaluation
    "evaluate", "psnr", "ssim", "write_random_weights",
    # inference
    "Translator", "load_for_inference", "import_official",
]
