"""Every hook an i2i plugin may implement; each docstring is the hook's contract.

Plugins implement hooks with :data:`i2i_core.hookimpl`::

    from i2i_core import hookimpl

    @hookimpl
    def register_architectures(register):
        register("my_net", build_my_net, role="generator", description="...")

Registration hooks are called once per :class:`~i2i_core.Engine`, one
implementation at a time, so every entry records the plugin that provided it and a
raising plugin is reported and skipped. Lifecycle hooks are called by the
:class:`~i2i_core.Trainer`; their exceptions stop training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from i2i_core.registry._markers import hookspec

if TYPE_CHECKING:  # types only: a hook spec never imports the training stack or click
    import click
    import torch
    from torch import nn

    from i2i_core.training.trainer import Trainer

# --- the ``register`` callables the registration hooks receive ---------------------


class RegisterArchitecture(Protocol):
    """``register`` of :func:`register_architectures`."""

    def __call__(self, name: str, builder: Callable[..., nn.Module], *, role: str = "generator",
                 description: str = "", aliases: Iterable[str] = (), replace: bool = False) -> None: ...


class RegisterComponent(Protocol):
    """``register`` of :func:`register_losses`, ``_optimizers``, ``_recipes``, ``_importers``, ``_loggers``.

    ``description`` defaults to the first line of ``obj``'s docstring.
    """

    def __call__(self, name: str, obj: Any, *, description: str = "", aliases: Iterable[str] = (),
                 replace: bool = False) -> None: ...


class RegisterDataset(Protocol):
    """``register`` of :func:`register_datasets`; ``training=False`` marks a reader of inputs only."""

    def __call__(self, name: str, builder: Callable[..., torch.utils.data.Dataset[Any]], *, description: str = "",
                 aliases: Iterable[str] = (), replace: bool = False, training: bool = True) -> None: ...


class RegisterPreset(Protocol):
    """``register`` of :func:`register_presets`."""

    def __call__(self, recipe: str, preset: str, overrides: dict[str, Any], *, description: str = "",
                 replace: bool = False) -> None: ...

# --- registration ---------------------------------------------------------------


@hookspec
def register_architectures(register: RegisterArchitecture) -> None:
    """Register network builders.

    Called once per engine. Call ``register(name, builder, *, role="generator",
    description="", aliases=())`` for each network. ``role`` is one of
    ``generator``, ``discriminator``, ``encoder`` or ``other``. ``builder(**kwargs)``
    returns an ``nn.Module``; kwargs use the reference implementations' names
    (``input_nc``, ``output_nc``, ``ngf``, ``ndf``, ``norm``, ``use_dropout``, ...).

    Args:
        register: adds one entry to the architectures registry.
    """


@hookspec
def register_losses(register: RegisterComponent) -> None:
    """Register loss builders.

    Called once per engine. Call ``register(name, builder, description="")``;
    ``builder(**kwargs)`` returns an ``nn.Module`` loss.

    Args:
        register: adds one entry to the losses registry.
    """


@hookspec
def register_optimizers(register: RegisterComponent) -> None:
    """Register optimizer builders.

    Called once per engine. Call ``register(name, builder, description="")``;
    ``builder(params, **kwargs)`` returns a ``torch.optim.Optimizer``.

    Args:
        register: adds one entry to the optimizers registry.
    """


@hookspec
def register_datasets(register: RegisterDataset) -> None:
    """Register dataset readers.

    Called once per engine. Call ``register(name, builder, description="", training=True)``;
    ``training=False`` marks a reader of inputs only (no targets), which a run refuses in
    one line and ``i2i translate`` may use. ``builder(cfg: DataConfig, split: str)`` returns a map-style
    ``torch.utils.data.Dataset`` whose items are dicts of float CHW tensors in
    [-1, 1] (keys such as ``A``, ``B``, ``label``, ``inst``) and ``*_path``
    strings. Items accept an ``int`` index or an ``(index, seed)`` pair; with a
    seed, random augmentation must depend on that seed only (reproducible resume).

    Args:
        register: adds one entry to the datasets registry.
    """


@hookspec
def register_recipes(register: RegisterComponent) -> None:
    """Register training recipes.

    Called once per engine. Call ``register(name, recipe_cls, description="")``
    where ``recipe_cls`` subclasses :class:`i2i_core.Recipe`.

    Args:
        register: adds one entry to the recipes registry.
    """


@hookspec
def register_presets(register: RegisterPreset) -> None:
    """Register named presets of a recipe.

    Called once per engine. Call ``register(recipe, preset, overrides,
    description="")``; ``overrides`` is nested like the run config, e.g.
    ``{"model": {"netG": "unet_128"}, "data": {"crop_size": 128}}``. A preset may
    target a recipe of another plugin.

    Args:
        register: adds one entry to the presets registry.
    """


@hookspec
def register_importers(register: RegisterComponent) -> None:
    """Register converters of official checkpoint files.

    Called once per engine. Call ``register(name, importer, description="")``;
    ``importer(path, arch: str, **kwargs)`` returns an
    :class:`i2i_core.io.checkpoint.ImportedWeights` (networks' state dicts plus the
    run config that rebuilds them), used by ``i2i import-checkpoint --from NAME``.

    Args:
        register: adds one entry to the importers registry.
    """


@hookspec
def register_loggers(register: RegisterComponent) -> None:
    """Register live loggers (TensorBoard, W&B, MLflow, CSV ...).

    Called once per engine. Call ``register(name, builder, description="")``. A run
    enables loggers by name with ``trainer.loggers = ["name", ...]``; for each one the run
    calls ``builder(run_dir=Path, config=RunConfig)`` once before training and passes the
    returned object to the trainer as a per-run callback, so its ``@hookimpl`` methods
    (``on_log``, ``after_sample``, ``after_eval``, ``after_train`` ...) receive that run's
    events. The builder may raise :class:`i2i_core.ConfigError` for a missing dependency
    or a bad setting; it should not open files before it is built for a run.

    Args:
        register: adds one entry to the loggers registry.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``i2i`` click group.

    Called when the engine is built for a command name ``i2i`` does not know statically, and
    by ``i2i plugins``; never at import time. Commands added here are therefore not listed
    by ``i2i --help``: a plugin whose commands should be listed there (without importing
    torch) also declares them in the ``i2i.commands`` entry-point group (see
    ``docs/plugins.md``). A raising implementation is replaced by a command that reports the error.

    Args:
        cli: the ``click.Group`` named ``i2i``.
    """


# --- training lifecycle ---------------------------------------------------------


@hookspec
def before_train(trainer: Trainer) -> None:
    """Called once when :meth:`Trainer.fit` starts, after networks are built and a
    checkpoint (if resuming) is loaded, before the first step.

    Args:
        trainer: the running :class:`i2i_core.Trainer`.
    """


@hookspec
def before_step(trainer: Trainer, batch: dict[str, Any]) -> None:
    """Called before every training step with the batch already on the device.

    Must be cheap: it runs on the hot path of every iteration.

    Args:
        trainer: the running trainer (``trainer.step`` is the step about to run).
        batch: the batch dict; mutate in place only if you know what you do.
    """


@hookspec
def after_step(trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
    """Called after every step, after the optimizers and the grad scaler stepped.

    Must be cheap and must not read values off the device: the loss values in ``logs``
    may be device tensors, and turning one into a float stalls the loop until the GPU
    catches up. Use :func:`on_log` for values as numbers.

    Args:
        trainer: the running trainer.
        step: the 1-based number of the step just finished.
        logs: ``dict[str, Tensor | float]`` of the losses the recipe returned for this step.
    """


@hookspec
def on_log(trainer: Trainer, step: int, logs: dict[str, float]) -> None:
    """Called every ``trainer.log_every`` steps (and at the last step) with the losses as numbers.

    This is where live loggers (TensorBoard, W&B, CSV) write scalars: the values were read
    off the device once for all listeners, together with the divergence check.

    Args:
        trainer: the running trainer.
        step: the 1-based step the values belong to.
        logs: ``dict[str, float]``: the recipe's losses plus ``lr`` (current learning-rate
            factor times ``trainer.lr``) and ``it_s`` (iterations per second since the start).
    """


@hookspec
def after_sample(trainer: Trainer, step: int, images: dict[str, torch.Tensor]) -> None:
    """Called after the trainer rendered sample images (every ``sample_every`` steps).

    Args:
        trainer: the running trainer.
        step: the step the samples belong to.
        images: ``dict[str, Tensor]`` of (B, C, H, W) images in [-1, 1].
    """


@hookspec
def after_eval(trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
    """Called after the held-out evaluation: every ``trainer.eval_every`` steps and at the end.

    Loggers record the scores here (FID over steps). Do not change ``metrics``: the trainer
    reads it afterwards to keep the best checkpoint.

    Args:
        trainer: the running trainer.
        step: the step the scored weights belong to.
        metrics: ``dict[str, float]`` from :func:`i2i_core.evaluation.evaluate.evaluate` (``fid``,
            ``psnr``, ``baseline_psnr``, ``images`` ...); an undefined score is NaN.
    """


@hookspec
def before_save_checkpoint(trainer: Trainer, checkpoint: dict[str, Any]) -> None:
    """Called with the checkpoint dict before it is written; may add keys.

    Added values must be loadable with ``torch.load(weights_only=True)``
    (tensors, numbers, strings, lists, dicts).

    Args:
        trainer: the running trainer.
        checkpoint: the dict about to be saved.
    """


@hookspec
def after_load_checkpoint(trainer: Trainer, checkpoint: dict[str, Any]) -> None:
    """Called after a training checkpoint was loaded and restored on resume.

    Args:
        trainer: the trainer being resumed.
        checkpoint: the loaded dict (with any keys plugins added on save).
    """


@hookspec
def on_train_error(trainer: Trainer, error: BaseException) -> None:
    """Called when a step raised; the error is re-raised afterwards.

    Args:
        trainer: the trainer that failed.
        error: the exception.
    """


@hookspec
def after_train(trainer: Trainer) -> None:
    """Called once when :meth:`Trainer.fit` ends, whether it succeeded or not.

    Args:
        trainer: the trainer that ran.
    """
