"""The training loop. It knows nothing of GANs: the recipe's ``training_step`` does.

Read top to bottom: :meth:`Trainer.fit` seeds, builds the loader, fixes the step budget,
chooses the profile for it and prepares the networks, resumes if asked, then runs
:meth:`Trainer._loop`: ``before_step`` -> ``training_step`` under autocast -> one
``scaler.update()`` -> EMA -> ``after_step`` -> log / sample / checkpoint / evaluate ->
stop request?; errors go to ``on_train_error`` and ``after_train`` always runs.

The loop never reads a device value per step: losses stay tensors, their finiteness is
folded into device flags (:mod:`.divergence`), and both are read together every
``log_every`` steps and before every checkpoint. What a checkpoint holds and how a resume
restores it is :mod:`.checkpointing`; the run folder's other files are :mod:`.run_folder`;
held-out scoring and the best checkpoint are :mod:`.held_out`.
Ctrl-C and SIGTERM stop at the next step boundary (:mod:`i2i_core.base.signals`).
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np
import pluggy
import torch
from rich.console import Console

from i2i_core.base.distributed import (
    DistInfo,
    RecipeDDP,
    broadcast_module,
    check_ranks_agree,
    init_from_env,
    reduce_flags,
    reduce_max,
    reduced_parameters,
    wrap_trained_nets,
)
from i2i_core.base.errors import ConfigError, RunPathError, TrainingInterrupted
from i2i_core.base.signals import StopRequest
from i2i_core.config.schema import DataConfig, RunConfig, TrainerConfig
from i2i_core.evaluation.evaluate import side_effect_free
from i2i_core.io import checkpoint as ckpt
from i2i_core.io.data import make_loader, to_device
from i2i_core.recipe import defaults
from i2i_core.recipe.contract import Recipe, StepContext, losses_as_floats
from i2i_core.registry.plugins import make_plugin_manager
from i2i_core.training import checkpointing
from i2i_core.training import profile as profiles
from i2i_core.training import progress as progress_plugin
from i2i_core.training.divergence import DivergenceGuard
from i2i_core.training.ema import EMA
from i2i_core.training.held_out import HeldOut
from i2i_core.training.precision import resolve_device, resolve_precision
from i2i_core.training.run_folder import RunFolder
from i2i_core.training.schedule import EpochMean, LRSchedule

if TYPE_CHECKING:
    from i2i_core.assembly.engine import Engine


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    run_dir: Path | None
    step: int
    logs: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Runs a recipe over a dataset.

    Args:
        cfg: the trainer section of the run config.
        out_dir: run folder for checkpoints, samples, logs and ``index.html`` (None: write nothing).
        plugins: the plugin manager whose lifecycle hooks are called (default: one holding only the hook
            specs and the core's default plugins: installed plugins are the caller's to load).
        engine: convenience for ``plugins=engine.pm``.
        callbacks: per-run objects with ``@hookimpl`` lifecycle methods.
        run_config: the resolved run config saved with the checkpoints.
        progress: show the rich progress bar (None: only when stdout is a terminal).

    Attributes hooks may read: ``cfg`` (with the profile applied once :meth:`fit` starts),
    ``run_config``, ``out_dir``, ``dist`` (rank and world), ``device``, ``profile``, ``recipe``,
    ``step``, ``epoch``, ``total_steps``, ``logged`` and ``logged_step`` (the losses of the last
    log point, as floats, and their step), ``best``, ``last_checkpoint``, ``progress`` and
    ``console`` (where :meth:`log` writes: a progress display drawn on it keeps messages above it).

    Example:
        >>> Trainer(TrainerConfig(max_steps=2)).fit(recipe, dataset)  # doctest: +SKIP
    """

    def __init__(self, cfg: TrainerConfig | None = None, out_dir: str | Path | None = None, *,
                 plugins: pluggy.PluginManager | None = None, engine: Engine | None = None,
                 callbacks: Iterable[object] = (), run_config: RunConfig | None = None,
                 progress: bool | None = None, batch_size: int | None = None,
                 num_workers: int | str = 0) -> None:
        self.cfg = cfg or TrainerConfig()
        self.dist, self.device = _rank_and_device(self.cfg.device)
        # only rank 0 writes files; the others train on their shard of every batch
        self.out_dir = Path(out_dir) if out_dir is not None and self.dist.is_main else None
        self.folder = RunFolder(self.out_dir)
        if plugins is None:  # never an Engine: the trainer relays hooks, it does not load plugins
            plugins = engine.pm if engine is not None else make_plugin_manager(
                autoload=False, default_plugins=(defaults, progress_plugin))[0]
        self.pm = plugins
        self.callbacks = list(callbacks)
        self.run_config = run_config
        self.progress = progress
        self.console = Console()
        self.batch_size = batch_size or (run_config.data.batch_size if run_config else 1)
        data_cfg = run_config.data if run_config is not None else None
        self.loader_options = loader_options(data_cfg, num_workers, self.device)
        self.precision = resolve_precision(self.cfg.precision, self.device)  # fp16 on CPU: an error now, not at fit
        #: what ``trainer.profile`` stands for on this device and step budget (chosen by :meth:`prepare`)
        self.profile: profiles.Profile | None = None
        self.schedule = LRSchedule(self.cfg)
        self.guard = DivergenceGuard(self.cfg.nan_policy, reduce=reduce_flags if self.dist.enabled else None)
        self.stop_request = StopRequest()
        self.step, self.epoch, self.steps_per_epoch, self.total_steps = 0, 1, 0, 0
        self.recipe: Recipe | None = None
        self.ema: EMA | None = None
        #: the losses of the last step, as detached device tensors (read them at log time)
        self.last_logs: dict[str, Any] = {}
        #: the losses as numbers, from the last log point, and that step (0: none read yet)
        self.logged: dict[str, float] = {}
        self.logged_step = 0
        self.run_id = uuid.uuid4().hex[:12]
        self.last_checkpoint: ckpt.CheckpointFiles | None = None
        self.resumed_from: int | None = None
        #: ``(dotted key, old, new)`` config changes a resume applies (set by :func:`i2i_core.assembly.run.train`)
        self.resume_changes: list[tuple[str, Any, Any]] = []
        #: the held-out split (given to :meth:`fit`) and the best score so far (:mod:`.held_out`)
        self.held_out = HeldOut()
        self._step_ctx: StepContext | None = None
        self._epoch_mean = EpochMean()
        self._lr_factor = 1.0
        self._rate = (0.0, 0)
        #: DistributedDataParallel wrappers of the trained networks (distributed runs only)
        self._ddp: dict[str, RecipeDDP] = {}

    # --- the run, in call order --------------------------------------------------------
    def fit(self, recipe: Recipe, data: Any, *, resume: str | Path | None = None,
            sample_batch: dict | None = None, eval_data: Any = None) -> TrainResult:
        """Train ``recipe`` on ``data`` (a map-style dataset or a list of item dicts).

        Raises:
            TrainingInterrupted: SIGINT/SIGTERM; a checkpoint of the last finished step was saved.
            DivergenceError: a loss went non-finite under ``nan_policy=stop``.
        """
        if len(data) == 0:
            raise ConfigError("the training data set is empty")
        if self.cfg.eval_every and eval_data is None:
            raise ConfigError("trainer.eval_every is set but there is no held-out split to score (data.test_split)")
        self.held_out.data = eval_data
        _seed(self.cfg)
        loader, sampler = make_loader(data, self.batch_size, self.cfg.seed, rank=self.dist.rank, world=self.dist.world,
                                      **self.loader_options)
        self.steps_per_epoch = len(loader)
        self.total_steps = self.cfg.max_steps or max(1, self.cfg.n_epochs + self.cfg.n_epochs_decay) * len(loader)
        self.prepare(recipe, self.total_steps, resuming=resume is not None)
        for cb in self.callbacks:  # before resuming: callbacks see after_load_checkpoint too
            self.pm.register(cb)
        try:
            if resume is not None:
                self._resume(resume)
            self.folder.open(self.run_config, self.resumed_from)
            profiles.record_start(self.folder.root, self.profile, self.step)  # threads etc.: a diverged run shows them
            if sample_batch is not None:
                sample_batch = to_device(sample_batch, self.device, self.cfg.channels_last)
            with self.stop_request:
                assert self.profile is not None
                if self.profile.name != "exact":
                    self.log(self.profile.summary())
                for caveat in self.profile.caveats if self.dist.rank == 0 else ():
                    self.log(f"exact profile: not guaranteed bit-identical: {caveat}")
                self.pm.hook.before_train(trainer=self)
                self._rate = (time.perf_counter(), self.step)
                self._loop(recipe, loader, sampler, sample_batch)
                if self.step >= self.total_steps:
                    self.save_checkpoint()
                    self.write_samples(sample_batch)
                    self.folder.plot_losses()
        except OSError as exc:
            error = RunPathError(_describe_os_error(exc))
            self.pm.hook.on_train_error(trainer=self, error=error)
            raise error from None
        except BaseException as error:
            self.pm.hook.on_train_error(trainer=self, error=error)
            raise
        finally:
            try:
                self.pm.hook.after_train(trainer=self)
            finally:
                for cb in self.callbacks:
                    self.pm.unregister(cb)
        return TrainResult(self.out_dir, self.step, dict(self.logged))

    def prepare(self, recipe: Recipe, total_steps: int | None = None, *, resuming: bool = False) -> None:
        """What :meth:`fit` does before the first step, for a run of ``total_steps`` steps.

        Chooses the profile (once: ``compile`` depends on the step budget) and applies it to
        :attr:`cfg` and :attr:`run_config`, then moves, broadcasts, seeds (``init_from``) and
        compiles the networks. Benchmarks call it to time exactly what a run trains.
        """
        if not recipe.nets:
            raise ConfigError(f"recipe {recipe.name or type(recipe).__name__!r} has no networks: build it before "
                              f"fit (engine.build_recipe(run), or recipe.setup(BuildContext(...)))")
        self.profile = profiles.choose(self.cfg, self.device, total_steps)
        applied = profiles.apply(self.cfg, self.profile)
        if applied is not self.cfg and self.run_config is not None:  # the saved config says what trained
            self.run_config = self.run_config.model_copy(update={"trainer": applied})
        self.cfg = applied
        self.precision = resolve_precision(self.cfg.precision, self.device)
        self._step_ctx = StepContext(self.precision.scaler,
                                     autocast=self.precision.autocast() if self.precision.dtype else None,
                                     world_size=self.dist.world, skip_nonfinite=self.cfg.nan_policy == "skip")
        _place_networks(recipe, self.cfg, self.device, distributed=self.dist.enabled)
        if self.cfg.init_from and not resuming:  # a resumed run's weights come from its checkpoint
            _copy_weights(recipe, self.cfg.init_from, self.log)
        if self.cfg.ema_decay:
            self.ema = EMA({n: recipe.nets[n] for n in recipe.inference_nets() if n in recipe.nets}, self.cfg.ema_decay)
        if self.cfg.compile:
            for net in recipe.nets.values():
                net.compile()  # in place: state_dict keys stay as they are
        self.recipe = recipe

    def _resume(self, source: str | Path) -> None:
        self.load_checkpoint(source)
        if self.out_dir is not None:
            for key, old, new in self.resume_changes:
                self.log(f"resume: {key} {old!r} -> {new!r} (applied)" + profiles.resume_note(key))
        self.folder.record_resume(source, self.step, self.resume_changes)
        if self.step > self.total_steps:
            raise ConfigError(f"--resume: the checkpoint is at step {self.step}, past this run's budget of "
                              f"{self.total_steps} steps (trainer.max_steps / n_epochs); raise the budget")

    def _loop(self, recipe: Recipe, loader: Any, sampler: Any, sample_batch: dict | None) -> None:
        cfg, ctx = self.cfg, self._step_ctx
        assert ctx is not None
        while self.step < self.total_steps:
            self.epoch = self.step // self.steps_per_epoch + 1
            sampler.set_epoch(self.epoch, (self.step - (self.epoch - 1) * self.steps_per_epoch) * self.batch_size)
            recipe.on_epoch_start(self.epoch)
            if self.dist.enabled:  # after on_epoch_start: it may change which parameters train
                self._ddp = wrap_trained_nets(recipe.nets, recipe.optimizers, self._ddp, self.device)
                ctx.ddp_reduced = reduced_parameters(self._ddp)
            self._lr_factor = self.schedule.apply(recipe.optimizers, self.epoch)
            for batch in loader:
                batch = to_device(batch, self.device, cfg.channels_last)
                self.pm.hook.before_step(trainer=self, batch=batch)
                ctx.step, ctx.epoch = self.step + 1, self.epoch
                with self.precision.autocast(), _networks_for_training(recipe, self._ddp):
                    # device tensors, detached by the guard and read only at log points (no host sync here)
                    logs = self.guard.observe(self.step + 1, recipe.training_step(batch, ctx))
                self.precision.scaler.update()  # once per iteration, after every optimizer stepped
                if self.ema is not None:
                    self.ema.update(self.step)
                self.step += 1
                self.last_logs = logs
                self._epoch_mean.add(logs)
                at_log = self.step % cfg.log_every == 0 or self.step == self.total_steps
                if at_log:
                    self._log_point()
                self.pm.hook.after_step(trainer=self, step=self.step, logs=logs)
                if self.step % cfg.sample_every == 0:
                    self.write_samples(sample_batch)
                if self.step < self.total_steps:
                    if self.step % cfg.save_every == 0:
                        self.save_checkpoint()
                    if cfg.eval_every and self.step % cfg.eval_every == 0:
                        self.evaluate_held_out()
                    self._stop_if_requested(at_log)
                if self.step >= self.total_steps:
                    break
            if self.step % self.steps_per_epoch == 0 or self.step >= self.total_steps:
                self.schedule.end_epoch(self._epoch_mean.pop())

    def _log_point(self) -> None:
        """Read the losses and the divergence flags (one sync), write the log row, call ``on_log``."""
        self.logged, self.logged_step = losses_as_floats(self.last_logs), self.step
        t0, s0 = self._rate
        rate = (self.step - s0) / max(1e-9, time.perf_counter() - t0)
        row: dict[str, Any] = {"step": self.step, "epoch": self.epoch, "lr": self.cfg.lr * self._lr_factor,
                               "it_s": round(rate, 4), "time": round(time.perf_counter() - t0, 3), **self.logged}
        self.folder.append_losses(row)
        self.pm.hook.on_log(trainer=self, step=self.step,
                            logs={k: v for k, v in row.items() if k not in ("step", "epoch")})
        self._check_finite("at a log point")

    def write_samples(self, batch: dict | None) -> None:
        """Translate ``batch`` with the current weights into ``RUN/samples/step_N.png``; call ``after_sample``."""
        if batch is None or self.out_dir is None or self.recipe is None:
            return
        with side_effect_free(self.recipe.nets, self.device), self.precision.autocast():
            images = self.recipe.sample(batch)
        self.folder.save_samples(self.step, images)
        self.pm.hook.after_sample(trainer=self, step=self.step, images=images)

    # --- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        """Commit a checkpoint of the current step (weights + training state, atomically); return its weights.

        Every rank checks the divergence flags first, so a non-finite checkpoint is never
        written (``nan_policy`` ``stop`` and ``skip``). Every checkpoint is a ``step_N``
        folder and ``latest.json`` names the newest.
        """
        if self.recipe is None:
            return None
        if self.cfg.nan_policy != "ignore":
            self._check_finite("before writing a checkpoint")
            checkpointing.refuse_nonfinite_weights(self.recipe.nets, self.step, self.last_checkpoint)
        if self.dist.enabled:
            check_ranks_agree(self.recipe.nets, self.step)
        if self.folder.checkpoints is None:
            return None
        counters = checkpointing.LoopCounters(self.step, self.epoch, self.run_id, self._epoch_mean.state(),
                                              self._step_ctx.skipped if self._step_ctx else 0, self.best)
        config = self.run_config.model_dump() if self.run_config else {}
        state = checkpointing.training_state(counters, self.recipe, self.precision.scaler, self.schedule, config)
        self.pm.hook.before_save_checkpoint(trainer=self, checkpoint=state)
        nets = {**self.recipe.nets, **(self.ema.state_dicts() if self.ema is not None else {})}
        self.last_checkpoint = checkpointing.commit(self.folder.checkpoints, nets, state,
                                                    keep=self.cfg.keep_checkpoints + 1, last=self.last_checkpoint)
        return self.last_checkpoint.weights

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore nets, optimizers, RNG and counters; refuse weights and state of different steps or runs."""
        assert self.recipe is not None and self._step_ctx is not None, "prepare() the recipe first"
        saved = checkpointing.read(path)
        ckpt.load_into(self.recipe.nets, saved.weights, saved.files.weights)
        if self.ema is not None and not self.ema.load_state_dicts(saved.weights, str(saved.files.weights)):
            self.log(f"resume: {saved.files.weights} holds no EMA weights; the average starts from the current weights")
        checkpointing.restore(saved, self.recipe, self.precision.scaler, self.schedule, self.cfg.lr)
        c = saved.counters
        self.step, self.epoch, self.run_id = c.step, c.epoch, c.run_id or self.run_id
        self._epoch_mean.load(*c.epoch_loss, device=self.device)
        self._step_ctx.skipped = c.skipped_steps
        self.resumed_from, self.last_checkpoint, self.held_out.best = self.step, saved.files, c.best
        self.pm.hook.after_load_checkpoint(trainer=self, checkpoint=saved.state)

    # --- held-out evaluation -----------------------------------------------------------------
    def evaluate_held_out(self, final: bool = False) -> dict[str, float]:
        """Score the held-out split (with the EMA weights when kept), call ``after_eval``, track the best
        checkpoint (:meth:`HeldOut.evaluate`); ``final``: write the evaluation images too."""
        return self.held_out.evaluate(self, final=final)

    @property
    def best(self) -> dict[str, Any]:
        """``{"metric", "score", "step"}`` of the best held-out evaluation so far (``trainer.best_metric``)."""
        return self.held_out.best

    def write_index(self, metrics: dict | None = None) -> Path | None:
        """Write ``RUN/index.html`` from the samples and evaluation images on disk."""
        title = f"i2i run: {self.run_config.recipe if self.run_config else type(self.recipe).__name__}"
        return self.folder.write_index(title, metrics)

    # --- stopping: divergence and signals ------------------------------------------------
    def _check_finite(self, when: str) -> None:
        self.guard.enforce(self.step, when, skipped=self._step_ctx.skipped if self._step_ctx else 0,
                           last=self.last_checkpoint, log=self.log)

    def _stop_if_requested(self, at_log: bool) -> None:
        """After Ctrl-C/SIGTERM: checkpoint this step and raise :class:`TrainingInterrupted`."""
        requested = self.stop_request.requested
        if self.dist.enabled:  # ranks must stop at the same step; they agree where they already talk (log points)
            requested = at_log and reduce_max(int(requested), self.device) > 0
        if not requested:
            return
        self.save_checkpoint()
        where = f" in {self.last_checkpoint.weights.parent}" if self.last_checkpoint and self.out_dir else ""
        raise TrainingInterrupted(f"interrupted at step {self.step}/{self.total_steps}; checkpoint saved{where}",
                                  signum=self.stop_request.signum or 2)

    def log(self, message: str) -> None:
        """Print one line (above the progress bar when one is shown)."""
        self.console.print(message, markup=False, highlight=False, emoji=False, soft_wrap=True)


def _rank_and_device(setting: str) -> tuple[DistInfo, torch.device]:
    """This process's rank and world (from the launcher's environment) and its device: ``trainer.device``,
    with each rank of a distributed CUDA job on its own GPU."""
    dist = init_from_env("cuda" if setting.startswith("cuda") or (
        setting == "auto" and torch.cuda.is_available()) else "cpu")
    device = resolve_device(setting)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    return dist, device


def _seed(cfg: TrainerConfig) -> None:
    """Seed every global generator a recipe may draw from (all of them are checkpointed)."""
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)  # a recipe may draw from NumPy's global generator
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def loader_options(data_cfg: DataConfig | None, num_workers: int | str, device: torch.device) -> dict[str, Any]:
    """DataLoader settings beyond the batch: workers (``data.num_workers``, else ``num_workers``), the order
    (``data.serial_batches``: in file order, as the reference), pinned memory and deeper prefetch where a GPU
    waits for batches."""
    on_cuda = device.type == "cuda"
    return {"num_workers": loader_workers(data_cfg.num_workers if data_cfg else num_workers, device),
            "shuffle": not (data_cfg.serial_batches if data_cfg else False), "pin_memory": on_cuda,
            "persistent_workers": data_cfg.persistent_workers if data_cfg else True,
            "prefetch_factor": (data_cfg.prefetch_factor if data_cfg else None) or (4 if on_cuda else None)}


def loader_workers(setting: int | str, device: torch.device) -> int:
    """DataLoader workers for ``data.num_workers`` (``auto``: 0 on CPU; the rank's cores - 1, at most 8, on CUDA).

    On CPU the training step uses every core, and a worker only takes one away from it (on
    the 2-core benchmark machine the loader with no worker already outran the step 39x); on a
    GPU the step is ~100x shorter and decoding must run beside it.
    """
    if setting != "auto":
        return int(setting)
    if device.type != "cuda":
        return 0
    return max(0, min(8, profiles.cores_per_rank() - 1))


@contextlib.contextmanager
def _networks_for_training(recipe: Recipe, wrappers: dict[str, RecipeDDP]) -> Any:
    """``recipe.nets`` holds the DDP wrappers while ``training_step`` runs, the plain networks otherwise."""
    if not wrappers:
        yield
        return
    plain = recipe.nets
    recipe.nets = {**plain, **wrappers}
    try:
        yield
    finally:
        recipe.nets = plain


def _place_networks(recipe: Recipe, cfg: TrainerConfig, device: torch.device, *, distributed: bool) -> None:
    """Networks onto ``device`` in the profile's memory format, optimizers on fused kernels if chosen, and every
    rank starting from rank 0's weights."""
    for net in recipe.nets.values():
        net.to(device)
        if cfg.channels_last:
            net.to(memory_format=torch.channels_last)
    if cfg.fused_optimizer:
        _use_fused_kernels(recipe.optimizers.values())
    if distributed:
        for net in recipe.nets.values():
            broadcast_module(net)


def _copy_weights(recipe: Recipe, source: str, log: Callable[[str], None]) -> None:
    """``trainer.init_from``: copy the tensors of a checkpoint's weights whose names and shapes match."""
    weights, _, _ = ckpt.load_weights(ckpt.find_weights(source))
    for name, (copied, total) in ckpt.copy_matching(recipe.nets, weights).items():
        log(f"init_from {source}: {name}: copied {copied}/{total} tensors")


def _use_fused_kernels(optimizers: Iterable[torch.optim.Optimizer]) -> None:
    """Switch Adam/AdamW built without ``fused`` to their fused kernels (the fast profile decides after the
    recipe built its optimizers); others keep their ``foreach`` path."""
    for opt in optimizers:
        if not isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
            continue
        for group in opt.param_groups:
            if not group.get("differentiable") and all(p.is_floating_point() for p in group["params"]):
                group["fused"], group["foreach"] = True, False


def _describe_os_error(exc: OSError) -> str:
    """One line for a filesystem error: which file, what went wrong."""
    target = f"{exc.filename}: " if exc.filename else ""
    reason = exc.strerror or str(exc)
    if exc.errno == 28:
        reason += " (disk full; free space, then continue with --resume auto)"
    return f"{target}{reason}"
