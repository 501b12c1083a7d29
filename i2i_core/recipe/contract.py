"""Recipes: what one training iteration of a model family computes.

How to write a recipe
=====================

A recipe is a subclass of :class:`Recipe`. Its whole surface, and who uses each member:

=========================  =======================  ============================================================
member                     called / read by         what it is
=========================  =======================  ============================================================
``name``                   registry, messages       the registry name (``i2i run NAME``)
``Config``                 config resolution        pydantic model of the ``model.*`` options (``extra="forbid"``)
``defaults``               config resolution        nested overrides of ``data``/``trainer`` this recipe needs
``inference``              translate, export        an :class:`Inference`: reader, folder and input key
``inference_spec()``       translate, tiling,       an :class:`InferenceSpec` of the loaded model: input kind
                           export                   (image or label map), channels, classes, instance map,
                                                    size multiple, batch-statistics dependence
``export_graph(spec, s)``  ``i2i export``           an :class:`ExportGraph`: the module, its example inputs
                                                    (side ``s``) and their names (default: the inference
                                                    network fed the image as it is)
``validate_run(run)``      config resolution        cross-section checks of a :class:`~i2i_core.RunConfig`
``build(ctx)``             ``setup``                networks, losses, optimizers -> :class:`Modules` (implement)
``training_step(b, s)``    trainer                  one iteration; returns the losses as tensors (implement)
``translate(batch)``       translate, sample, eval  the output batch in [-1, 1] (implement)
``sample(batch)``          trainer, eval grids      images to show: input, output, target
``evaluation_pair(b)``     evaluate                 ``(prediction, target, identity or None)``
``configure_dataset``      run, translate, eval     adapt a freshly built reader (grayscale, size multiple)
``inference_nets()``       checkpoint loading, EMA  networks ``translate`` needs
``state_dict()``           trainer (checkpoints)    extra training state (image pools)
``load_state_dict(s)``     trainer (resume)         restore it
``on_epoch_start(e)``      trainer                  per-epoch changes (pix2pixHD's ``niter_fix_global``)
``setup(ctx)``             ``Engine.build_recipe``  ``build`` and keep ``nets``/``optimizers``
``config``                 the recipe itself        the validated ``Config`` instance
``nets``, ``optimizers``   trainer, checkpoints     what ``build`` returned
``run_dir``                the recipe itself        folder of the loaded run (files beside it), else None
=========================  =======================  ============================================================

``Recipe`` is generic in its config type: ``class MyRecipe(Recipe[MyConfig])`` with ``Config = MyConfig``
types ``self.config`` as ``MyConfig``, so a type checker sees the recipe's own fields. A plain
``class MyRecipe(Recipe)`` still works (its ``self.config`` is then untyped); the runtime is the same
either way (the engine builds ``cls(cls.Config.model_validate(model_section))``).

``evaluation_pairs(batch)`` (``{direction: pair}``) may replace ``evaluation_pair`` for a recipe
that translates both ways (CycleGAN); :mod:`i2i_core.evaluation.evaluate` looks for it.

What the core knows of a trained model's input and output comes from ``inference_spec()`` and
``export_graph()`` only: the core never reads a recipe's ``Config`` fields. A recipe whose
generator takes an image with as many channels as its first convolution and whose ``translate``
is ``G(batch[inference.input])`` needs neither (the blanks of the default spec are measured on the
network); a recipe that reads label maps, takes an instance map, depends on batch statistics or
computes more than ``G(x)`` overrides both (pix2pixHD does, in its plugin).

The trainer runs ``training_step`` under autocast and owns the grad scaler, so a
recipe never mentions precision: ``step.backward`` scales, ``step.optimizer_step``
unscales and steps, and the trainer updates the scaler once per iteration after
every optimizer stepped. ``training_step`` returns its losses as detached device
tensors (:func:`detach_losses`): the trainer reads them off the device only every
``trainer.log_every`` steps, so the loop never waits on the GPU. State that is neither a network nor an
optimizer (image pools) goes through ``state_dict``/``load_state_dict`` so that
``--resume`` restores it.

Example:
    >>> class Copy(Recipe):
    ...     name = "copy"
    ...     def build(self, ctx):
    ...         return Modules(nets={}, optimizers={})
    ...     def training_step(self, batch, step):
    ...         return {}
    ...     def translate(self, batch):
    ...         return batch["A"]
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Iterable, Iterator, Literal, Mapping, TypeVar, cast

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from i2i_core.base.distributed import all_reduce_gradients
from i2i_core.base.errors import ConfigError

if TYPE_CHECKING:
    from i2i_core.config.schema import DataConfig, RunConfig, TrainerConfig
    from i2i_core.registry.registries import Registries


class RecipeConfig(BaseModel):
    """Base of recipe ``Config`` models: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False)


@dataclass
class Modules:
    """What :meth:`Recipe.build` returns: networks and optimizers by name."""

    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)


@dataclass
class BuildContext:
    """What a recipe may use to build itself."""

    registries: Registries
    trainer: TrainerConfig
    data: DataConfig
    device: torch.device
    training: bool = True

    def architecture(self, name: str, **kwargs: Any) -> nn.Module:
        """Build a registered network with the reference's keyword arguments."""
        return self.registries.architectures.build(name, **kwargs)

    def loss(self, name: str, **kwargs: Any) -> nn.Module:
        """Build a registered loss module."""
        return self.registries.losses.build(name, **kwargs)

    def optimizer(self, params: Iterable, **overrides: Any) -> torch.optim.Optimizer:
        """Build the configured optimizer (``trainer.optimizer``, ``lr``, ``beta1``, ``beta2``)."""
        t = self.trainer
        kwargs: dict[str, Any] = {"lr": t.lr, "betas": (t.beta1, t.beta2)}
        if t.fused_optimizer:
            kwargs["fused"] = True
        kwargs.update(overrides)
        return self.registries.optimizers.build(t.optimizer, list(params), **kwargs)


class StepContext:
    """Precision-aware helpers handed to :meth:`Recipe.training_step`."""

    def __init__(self, scaler: torch.amp.GradScaler, step: int = 0, epoch: int = 1,
                 autocast: Any = None, world_size: int = 1, skip_nonfinite: bool = False) -> None:
        self.scaler = scaler
        self.step = step
        self.epoch = epoch
        self._autocast = autocast
        self.world_size = world_size
        #: ``trainer.nan_policy=skip``: optimizer steps whose gradients hold NaN/inf are skipped
        self.skip_nonfinite = skip_nonfinite
        #: how many optimizer steps were skipped that way
        self.skipped = 0
        #: ``id`` of the parameters DistributedDataParallel averages during backward (set by the trainer)
        self.ddp_reduced: frozenset[int] = frozenset()

    def backward(self, loss: torch.Tensor, inputs: Iterable[torch.Tensor] | None = None) -> None:
        """Backpropagate ``loss`` (scaled when fp16 is on).

        ``inputs`` limits which leaves receive gradients: a step that backpropagates a
        generator loss through a trainable discriminator passes the generator's parameters,
        so the discriminator gets its gradient from its own backward only (what distributed
        runs need; the generator's gradients are the same).
        """
        self.scaler.scale(loss).backward(inputs=list(inputs) if inputs is not None else None)

    def optimizer_step(self, optimizer: torch.optim.Optimizer, zero_grad: bool = False) -> None:
        """Step ``optimizer`` through the grad scaler (gradients averaged over ranks first)."""
        if self.world_size > 1:  # DDP averaged its networks' gradients during backward; the rest here
            all_reduce_gradients(optimizer, self.world_size, skip=self.ddp_reduced)
        if self.skip_nonfinite and not self.scaler.is_enabled() and not _finite_gradients(optimizer):
            optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            return
        self.scaler.step(optimizer)
        if zero_grad:
            optimizer.zero_grad(set_to_none=True)

    @staticmethod
    def zero_grad(*optimizers: torch.optim.Optimizer) -> None:
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)

    @staticmethod
    def parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
        """The parameters ``optimizer`` updates (e.g. ``inputs`` of :meth:`backward`)."""
        return [p for group in optimizer.param_groups for p in group["params"]]

    @staticmethod
    def requires_grad(nets: nn.Module | Iterable[nn.Module], flag: bool) -> None:
        """Freeze (``False``) or unfreeze the parameters of one or more networks."""
        for net in [nets] if isinstance(nets, nn.Module) else nets:
            for p in net.parameters():
                p.requires_grad_(flag)

    @contextlib.contextmanager
    def full_precision(self) -> Iterator[None]:
        """Leave autocast for a block (e.g. a numerically sensitive loss)."""
        if self._autocast is None:
            yield
            return
        with torch.autocast(self._autocast.device, enabled=False):
            yield


def _finite_gradients(optimizer: torch.optim.Optimizer) -> bool:
    """Whether every gradient of ``optimizer`` is finite.

    One host sync per optimizer step: the price of ``nan_policy=skip`` (fp16's grad scaler
    pays the same to skip its overflow steps).
    """
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return True
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(grads))).all())


@dataclass(frozen=True)
class Inference:
    """How ``i2i translate`` reads a recipe's inputs.

    Args:
        reader: dataset reader (registry name) for inputs in the data layout.
        folder: folder under a data root that holds split ``test`` for that reader.
        input: item key of the input image; its ``<key>_path`` names the outputs.
    """

    reader: str = "single"
    folder: str = "test"
    input: str = "A"


#: what a model reads: an image in [-1, 1], or a map of integer class ids (stored as float)
InputKind = Literal["image", "label_map"]


@dataclass(frozen=True)
class InferenceSpec:
    """What a loaded model takes and gives, as translate, tiling and export need to know it.

    Returned by :meth:`Recipe.inference_spec`; a field left ``None`` is measured on the inference
    network by the core (``i2i_core.inference.spec``).

    Args:
        input_kind: ``"image"`` (the input key holds (N, C, H, W) floats in [-1, 1]) or
            ``"label_map"`` (it holds (N, 1, H, W) integer class ids in ``[0, classes)``, stored as
            float; read from one-channel files, resized by nearest neighbour, never normalised).
        input_channels: channels of an ``"image"`` input (files with other channels are converted
            or refused); None: the input channels of the network's first ``Conv2d``. A label map
            has one channel.
        output_channels: channels of the translated image; None: measured by running the
            network on a meta tensor.
        classes: ``"label_map"`` only: the number of classes (ids run from 0 to ``classes - 1``).
        instance_map: whether the model also takes an instance map: (N, 1, H, W) integer ids under
            the batch key ``inst`` (``Translator(..., inst=)``, ``test_inst/`` in a data root),
            resized by nearest neighbour like a label map.
        size_multiple: the multiple both image sides must be; None: measured on the network
            (``net.size_multiple`` when it has one, else the product of its strides).
        batch_statistics: whether ``translate`` normalises with the statistics of the batch at hand
            (train-mode BatchNorm): translation then runs one image per batch, and export replaces
            the network's BatchNorm layers by per-batch normalisation.
    """

    input_kind: InputKind = "image"
    input_channels: int | None = None
    output_channels: int | None = None
    classes: int = 0
    instance_map: bool = False
    size_multiple: int | None = None
    batch_statistics: bool = False

    def __post_init__(self) -> None:
        if self.input_kind not in ("image", "label_map"):
            raise ConfigError(f"InferenceSpec.input_kind {self.input_kind!r}: expected 'image' or 'label_map'")
        if self.input_kind == "label_map" and self.classes < 1:
            raise ConfigError(f"InferenceSpec.classes {self.classes}: a label-map input needs the class count (>= 1)")
        if self.input_kind == "label_map" and self.input_channels not in (None, 1):
            raise ConfigError(f"InferenceSpec.input_channels {self.input_channels}: a label map has one channel")
        if self.input_kind == "image" and self.classes:
            raise ConfigError(f"InferenceSpec.classes {self.classes}: only a 'label_map' input has classes (0 for "
                              "an image)")
        for name in ("input_channels", "output_channels", "size_multiple"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"InferenceSpec.{name} {value}: expected a positive integer or None (measured)")

    @property
    def reads_ids(self) -> bool:
        """Whether the input is a map of class ids rather than an image."""
        return self.input_kind == "label_map"


@dataclass
class ExportGraph:
    """What :meth:`Recipe.export_graph` returns: the computation ``i2i export`` writes to a file.

    Args:
        module: ``forward(*inputs)`` -> (N, C_out, H, W) in [-1, 1], what ``translate`` computes
            for one batch (pre-processing such as one-hot encoding included). A copy on the CPU:
            the exporter puts it in eval mode, may cast it to fp16 and replace its BatchNorm layers.
        inputs: example inputs for tracing, float32, each (2, C, side, side) (batch 2, so that
            exporters do not specialise the batch size to 1); every input shares N, H and W.
        input_names: one name per input (the ONNX input names), e.g. ``("image",)``.
        metadata: extra ``i2i.*`` keys written with the file (JSON values), beside the core's.
    """

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.input_names) or not self.inputs:
            raise ConfigError(f"ExportGraph: {len(self.inputs)} example inputs but input names "
                              f"{list(self.input_names)}; expected one name per input (at least one)")


def detach_losses(logs: Mapping[str, torch.Tensor | float]) -> dict[str, torch.Tensor | float]:
    """A step's losses detached from the graph and left where they are (what ``training_step`` returns).

    Nothing is read back to the host: turning a device tensor into a float would make the
    loop wait for the GPU every iteration. The trainer reads them every ``log_every`` steps;
    tests and scripts read them with :func:`losses_as_floats`.
    """
    return {key: value.detach() if isinstance(value, torch.Tensor) else value for key, value in logs.items()}


def losses_as_floats(logs: Mapping[str, torch.Tensor | float]) -> dict[str, float]:
    """``{name: float}`` of a step's losses with one device-to-host copy per device.

    Reading each loss with ``.item()`` would stall the step once per value; stacking them
    first costs one copy (what the trainer does at its log points).
    """
    out: dict[str, float] = {}
    by_device: dict[torch.device, list[str]] = {}
    for key, value in logs.items():
        if isinstance(value, torch.Tensor):
            by_device.setdefault(value.device, []).append(key)
        else:
            out[key] = float(value)
    for keys in by_device.values():
        stacked = torch.stack([torch.as_tensor(logs[k]).detach().float().reshape(()) for k in keys])
        out.update(zip(keys, stacked.tolist(), strict=True))
    return {key: out[key] for key in logs}


#: a recipe's validated ``Config`` type (``Recipe[Pix2PixConfig]``); a bare ``Recipe`` leaves it open (``Any``)
ConfigT = TypeVar("ConfigT", bound=BaseModel)


class Recipe(Generic[ConfigT]):
    """Base class of every training recipe (see the module docstring for its members).

    Generic in the config type only for type checkers: ``Recipe[MyConfig]`` types ``self.config``.
    """

    name: ClassVar[str] = ""
    # a ClassVar cannot hold a type variable, so ``Config`` stays ``type[BaseModel]``; a subclass sets it
    # to the class it names as ``ConfigT``
    Config: ClassVar[type[BaseModel]] = RecipeConfig
    defaults: ClassVar[dict[str, Any]] = {}
    inference: ClassVar[Inference] = Inference()

    def __init__(self, config: ConfigT | None = None) -> None:
        # ``self.Config()`` is an instance of the subclass's ``Config``, i.e. of its ``ConfigT`` (the one
        # link the checker cannot see, see above)
        self.config: ConfigT = config if config is not None else cast(ConfigT, self.Config())
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        #: the run folder the weights were loaded from (set by inference loading), for files beside it
        self.run_dir: Path | None = None

    # --- to implement ---------------------------------------------------------
    def build(self, ctx: BuildContext) -> Modules:
        """Create the networks, losses and optimizers (from ``ctx``'s registries)."""
        raise NotImplementedError

    def training_step(self, batch: dict[str, Any], step: StepContext) -> dict[str, torch.Tensor | float]:
        """One iteration: forwards, ``step.backward``/``step.optimizer_step`` per update; the losses
        as detached tensors (:func:`detach_losses`), never read off the device here."""
        raise NotImplementedError

    def translate(self, batch: dict) -> torch.Tensor:
        """Inference: the translated image batch in [-1, 1]."""
        raise NotImplementedError

    # --- optional -------------------------------------------------------------
    @classmethod
    def validate_run(cls, run: RunConfig) -> None:
        """Cross-section checks of a resolved :class:`RunConfig` (raise ``ConfigError``).

        Called once after validation, e.g. to check that ``data.crop_size`` suits
        ``model.netG`` or that a staged preset names the run it starts from.
        """

    def sample(self, batch: dict) -> dict[str, torch.Tensor]:
        """Images to show for a batch (default: input, output and target)."""
        with torch.no_grad():
            out = {"input": batch["A"], "output": self.translate(batch)}
        if "B" in batch:
            out["target"] = batch["B"]
        return out

    def evaluation_pair(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(prediction, target, identity_baseline_or_None)`` for held-out scoring."""
        with torch.no_grad():
            pred = self.translate(batch)
        ident = batch["A"] if batch["A"].shape == batch["B"].shape else None
        return pred, batch["B"], ident

    def configure_dataset(self, dataset: Any, split: str) -> None:
        """Adjust a freshly built reader before use (e.g. ``dataset.grayscale = {"A"}`` for one
        input channel, ``dataset.size_multiple = 2**n`` for the ``none`` preprocess mode)."""

    def inference_nets(self) -> list[str]:
        """Networks :meth:`translate` needs (checked when loading a checkpoint for inference)."""
        return ["G"]

    def inference_spec(self) -> InferenceSpec:
        """What the loaded model takes and gives (called after ``setup``, weights loaded).

        The default, an image in and an image out with the channels, size multiple and
        output measured on the first of :meth:`inference_nets`, fits a generator that
        ``translate`` runs as ``G(batch[inference.input])`` in eval mode. Override it for a
        label-map input, an instance map, channels the network does not show (a recipe
        choosing between generators by direction) or batch statistics.
        """
        return InferenceSpec()

    def export_graph(self, spec: InferenceSpec, side: int) -> ExportGraph:
        """The module ``i2i export`` writes, with example inputs of ``side`` x ``side`` pixels.

        Args:
            spec: :meth:`inference_spec` with its blanks measured (channels, size multiple).
            side: the example side, a multiple of ``spec.size_multiple``.

        The default exports a copy of the first of :meth:`inference_nets` fed with the
        image as it is (input name ``image``). A recipe whose ``translate`` does more (label
        encoding, an instance map) overrides it, or raises ``ConfigError`` naming the option
        that makes its model impossible to export.
        """
        if spec.reads_ids or spec.instance_map or spec.input_channels is None:
            raise ConfigError(f"recipe {self.name!r} takes a label map, an instance map or an unknown channel "
                              "count; it must override Recipe.export_graph to be exported")
        net = copy.deepcopy(self.nets[self.inference_nets()[0]]).cpu()
        g = torch.Generator().manual_seed(0)
        image = torch.rand(2, spec.input_channels, side, side, generator=g, dtype=torch.float32).mul(2).sub(1)
        return ExportGraph(net, (image,), ("image",))

    def state_dict(self) -> dict[str, Any]:
        """Extra training state (beyond nets/optimizers) to checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def on_epoch_start(self, epoch: int) -> None:
        """Called by the trainer before each epoch (e.g. to change which params train)."""

    def setup(self, ctx: BuildContext) -> Modules:
        """Build and keep the modules (called by ``Engine.build_recipe``, or by a script before ``Trainer.fit``)."""
        modules = self.build(ctx)
        self.nets, self.optimizers = modules.nets, modules.optimizers
        return modules
