"""The training loop. It knows nothing of GANs: the recipe's ``training_step`` does.

Read top to bottom: setup (device, precision, seed, networks), optional resume,
then the loop: ``before_step`` -> ``training_step`` under autocast -> one
``scaler.update()`` -> ``after_step`` -> log / sample / checkpoint -> stop request?;
errors go to ``on_train_error`` and ``after_train`` always runs.

The loop never reads a device value per step: losses stay tensors, their finiteness is
folded into device flags (:mod:`.divergence`), and both are read together every
``log_every`` steps and before every checkpoint. Checkpoints are only written at step
boundaries and committed atomically (:func:`.checkpoint.commit_checkpoint`); Ctrl-C and
SIGTERM stop at the next boundary (:mod:`.signals`).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pluggy
import torch

from i2i_core.base.atomic import atomic_write_json, atomic_write_text, finite_json
from i2i_core.base.distributed import (
    RecipeDDP,
    broadcast_module,
    check_ranks_agree,
    init_from_env,
    reduce_flags,
    reduce_max,
    reduced_parameters,
    wrap_trained_nets,
)
from i2i_core.base.errors import CheckpointError, ConfigError, DivergenceError, RunPathError, TrainingInterrupted
from i2i_core.base.signals import StopRequest
from i2i_core.config.schema import RunConfig, TrainerConfig
from i2i_core.evaluation.evaluate import evaluate, side_effect_free
from i2i_core.evaluation.metrics import is_better
from i2i_core.io import checkpoint as ckpt
from i2i_core.io.data import make_loader, to_device
from i2i_core.io.report import append_jsonl, plot_losses, read_jsonl, save_grid, write_index
from i2i_core.recipe import defaults
from i2i_core.recipe.contract import Recipe, StepContext, losses_as_floats
from i2i_core.registry.plugins import make_plugin_manager
from i2i_core.training import profile as profiles
from i2i_core.training import progress as progress_plugin
from i2i_core.training.divergence import DivergenceGuard, nonfinite_tensors
from i2i_core.training.ema import EMA
from i2i_core.training.precision import resolve_device, resolve_precision
from i2i_core.training.schedule import LRSchedule

if TYPE_CHECKING:
    from i2i_core.assembly.engine import Engine

_OPTIMIZER_STATEFUL = ("params", "lr", "initial_lr")


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

    Example:
        >>> Trainer(TrainerConfig(max_steps=2)).fit(recipe, dataset)  # doctest: +SKIP
    """

    def __init__(self, cfg: TrainerConfig | None = None, out_dir: str | Path | None = None, *,
                 plugins: pluggy.PluginManager | None = None, engine: Engine | None = None,
                 callbacks: Iterable[object] = (), run_config: RunConfig | None = None,
                 progress: bool | None = None, batch_size: int | None = None,
                 num_workers: int | str = 0) -> None:
        self.cfg = cfg or TrainerConfig()
        self.dist = init_from_env("cuda" if self.cfg.device.startswith("cuda") or (
            self.cfg.device == "auto" and torch.cuda.is_available()) else "cpu")
        # only rank 0 writes files; the others train on their shard of every batch
        self.out_dir = Path(out_dir) if out_dir is not None and self.dist.is_main else None
        if plugins is None:  # never an Engine: the trainer relays hooks, it does not load plugins
            plugins = engine.pm if engine is not None else make_plugin_manager(
                autoload=False, default_plugins=(defaults, progress_plugin))[0]
        self.pm = plugins
        self.callbacks = list(callbacks)
        self.run_config = run_config
        self.progress = progress
        self.batch_size = batch_size or (run_config.data.batch_size if run_config else 1)
        self.device = resolve_device(self.cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        data_cfg = run_config.data if run_config is not None else None
        self.num_workers = loader_workers(data_cfg.num_workers if data_cfg else num_workers, self.device)
        on_cuda = self.device.type == "cuda"
        prefetch = data_cfg.prefetch_factor if data_cfg else None
        #: DataLoader settings beyond the batch: the order (data.serial_batches: in file order, as the reference),
        #: pinned memory and deeper prefetch where a GPU waits for batches
        self.loader_options: dict[str, Any] = {
            "shuffle": not (data_cfg.serial_batches if data_cfg else False), "pin_memory": on_cuda,
            "persistent_workers": data_cfg.persistent_workers if data_cfg else True,
            "prefetch_factor": prefetch or (4 if on_cuda else None)}
        self.profile = profiles.choose(self.cfg, self.device, self.cfg.max_steps)
        self.cfg = profiles.apply(self.cfg, self.profile)
        self.precision = resolve_precision(self.cfg.precision, self.device)
        self.schedule = LRSchedule(self.cfg)
        self.step = 0
        self.epoch = 1
        self.steps_per_epoch = 0
        self.total_steps = 0
        self.recipe: Recipe | None = None
        #: the losses of the last step, as detached device tensors (read them at log time)
        self.last_logs: dict[str, Any] = {}
        #: the losses as numbers, from the last log point
        self.logged: dict[str, float] = {}
        #: the step whose losses :attr:`logged` holds (0: none read yet)
        self.logged_step = 0
        self.run_id = uuid.uuid4().hex[:12]
        self.last_checkpoint: ckpt.CheckpointFiles | None = None
        self.guard = DivergenceGuard(self.cfg.nan_policy, reduce=reduce_flags if self.dist.enabled else None)
        self.stop_request = StopRequest()
        self.resumed_from: int | None = None
        #: ``(dotted key, old, new)`` config changes a resume applies (set by :func:`i2i_core.assembly.run.run`)
        self.resume_changes: list[tuple[str, Any, Any]] = []
        self._epoch_loss: torch.Tensor | None = None
        self._epoch_count = 0
        self._lr_factor = 1.0
        self._rate = (0.0, 0)
        self._step_ctx: StepContext | None = None
        #: DistributedDataParallel wrappers of the trained networks (distributed runs only)
        self._ddp: dict[str, RecipeDDP] = {}
        self.ema: EMA | None = None
        #: ``{"metric", "score", "step"}`` of the best held-out evaluation so far (``trainer.best_metric``)
        self.best: dict[str, Any] = {}
        self.eval_data: Any = None
        self._eval_cache: dict = {}

    # --- setup -------------------------------------------------------------------------
    def _seed(self) -> None:
        torch.manual_seed(self.cfg.seed)
        random.seed(self.cfg.seed)
        if self.cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False

    def _prepare(self, recipe: Recipe, resuming: bool = False) -> None:
        if not recipe.nets:
            raise ConfigError(f"recipe {recipe.name or type(recipe).__name__!r} has no networks: build it before "
                              f"fit (engine.build_recipe(run), or recipe.setup(BuildContext(...)))")
        for net in recipe.nets.values():
            net.to(self.device)
            if self.cfg.channels_last:
                net.to(memory_format=torch.channels_last)
        if self.cfg.fused_optimizer:
            _use_fused_kernels(recipe.optimizers.values())
        if self.dist.enabled:
            for net in recipe.nets.values():
                broadcast_module(net)
        if self.cfg.init_from and not resuming:  # a resumed run's weights come from its checkpoint
            weights, _, _ = ckpt.load_weights(ckpt.find_weights(self.cfg.init_from))
            for name, (copied, total) in ckpt.copy_matching(recipe.nets, weights).items():
                self.log(f"init_from {self.cfg.init_from}: {name}: copied {copied}/{total} tensors")
        if self.cfg.ema_decay:
            self.ema = EMA({n: recipe.nets[n] for n in recipe.inference_nets() if n in recipe.nets}, self.cfg.ema_decay)
        if self.cfg.compile:
            for net in recipe.nets.values():
                net.compile()  # in place: state_dict keys stay as they are
        self.recipe = recipe

    def log(self, message: str) -> None:
        console = getattr(self, "console", None)
        (console.print if console is not None else print)(message)

    # --- divergence ------------------------------------------------------------------------
    def _check_finite(self, when: str) -> None:
        """Read the divergence flags (one host sync); act on ``trainer.nan_policy``."""
        found = self.guard.check()
        if not found:
            return
        name, first = found[0]
        others = f" (also {', '.join(n for n, _ in found[1:])})" if len(found) > 1 else ""
        if self.cfg.nan_policy == "skip":
            skipped = self._step_ctx.skipped if self._step_ctx else 0
            self.log(f"loss {name}{others} was non-finite from step {first}; trainer.nan_policy=skip: "
                     f"{skipped} optimizer step(s) with non-finite gradients skipped so far")
            self.guard.reset()
            return
        kept = (f"the last finite checkpoint is {self.last_checkpoint.weights.parent} (step {self.last_checkpoint.step})"
                if self.last_checkpoint is not None else "no checkpoint was written")
        raise DivergenceError(
            f"loss {name}{others} became NaN/inf at step {first} (noticed at step {self.step}, {when}); training "
            f"stopped and {kept}; lower trainer.lr or set trainer.nan_policy=skip")

    # --- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self, tag: str = "latest") -> Path | None:
        """Commit a checkpoint of the current step (weights + training state, atomically).

        Every rank checks the divergence flags first, so a non-finite checkpoint is never
        written (``nan_policy`` ``stop`` and ``skip``). ``tag`` is kept for callers of older
        versions; every checkpoint is a ``step_N`` folder and ``latest.json`` names the newest.
        """
        if self.recipe is None:
            return None
        if self.cfg.nan_policy != "ignore":
            self._check_finite("before writing a checkpoint")
            bad = nonfinite_tensors(self.recipe.nets)
            if bad:
                kept = (f"{self.last_checkpoint.weights.parent}" if self.last_checkpoint is not None else "none")
                raise DivergenceError(f"network weights became NaN/inf by step {self.step} ({bad[0]}"
                                      f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}); no checkpoint "
                                      f"written, the last finite one is {kept}; lower trainer.lr")
        if self.dist.enabled:
            check_ranks_agree(self.recipe.nets, self.step)
        if self.out_dir is None:
            return None
        folder = self.out_dir / "checkpoints"
        config = self.run_config.model_dump() if self.run_config else {}
        state = self._training_state(config)
        self.pm.hook.before_save_checkpoint(trainer=self, checkpoint=state)
        nets: dict[str, Any] = dict(self.recipe.nets)
        if self.ema is not None:
            nets.update(self.ema.state_dicts())
        try:
            ref = ckpt.commit_checkpoint(
                folder, self.step,
                lambda p: ckpt.save_weights(p, nets, config, self.step, self.run_id),
                lambda p: ckpt.save_state(p, state),
                run_id=self.run_id, keep=self.cfg.keep_checkpoints + 1)
        except OSError as exc:
            kept = (f"the previous checkpoint {self.last_checkpoint.weights.parent} (step {self.last_checkpoint.step}) "
                    f"is intact" if self.last_checkpoint is not None else "no earlier checkpoint exists")
            raise RunPathError(f"cannot write the step {self.step} checkpoint in {folder}: "
                               f"{exc.strerror or exc}; {kept}") from None
        self.last_checkpoint = ref
        return ref.weights

    def _training_state(self, config: dict) -> dict[str, Any]:
        assert self.recipe is not None
        epoch_loss = [float(self._epoch_loss) if self._epoch_loss is not None else 0.0, self._epoch_count]
        return {
            "format": ckpt.FORMAT_VERSION, "step": self.step, "epoch": self.epoch, "config": config,
            "run_id": self.run_id, "epoch_loss": epoch_loss,
            "skipped_steps": self._step_ctx.skipped if self._step_ctx else 0, "best": dict(self.best),
            "optimizers": {k: o.state_dict() for k, o in self.recipe.optimizers.items()},
            "scaler": self.precision.scaler.state_dict(), "schedule": self.schedule.state_dict(),
            "recipe": self.recipe.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
                    "python_pos": random.getstate()[2],
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore nets, optimizers, RNG and counters; refuse weights and state of different steps or runs."""
        assert self.recipe is not None
        ref = ckpt.resolve_checkpoint(path)
        weights_path, state_path = ckpt.resumable_files(ref, path)
        header = ckpt.weights_header(weights_path)
        state = ckpt.load_state(state_path)
        w_step, s_step = int(header.get("step", -1)), int(state.get("step", -2))
        w_run, s_run = header.get("run_id", ""), str(state.get("run_id", ""))
        if w_step != s_step or w_run != s_run or (ref.step is not None and ref.step != w_step):
            raise CheckpointError(
                f"--resume {path}: the weights ({weights_path.name}: step {w_step}{f', run {w_run}' if w_run else ''}) "
                f"and the training state ({state_path.name}: step {s_step}{f', run {s_run}' if s_run else ''}) "
                f"do not belong together (an interrupted write of an older i2i?); resume from a complete "
                f"checkpoint, e.g. RUN@step_N")
        nets, _, _ = ckpt.load_weights(weights_path)
        ckpt.load_into(self.recipe.nets, nets, weights_path)
        if self.ema is not None and not self.ema.load_state_dicts(nets, str(weights_path)):
            self.log(f"resume: {weights_path} holds no EMA weights; the average starts from the current weights")
        # recipe state first: it may swap optimizers (pix2pixHD after niter_fix_global) before they load
        self.recipe.load_state_dict(state.get("recipe", {}))
        saved_lr = float((state.get("config") or {}).get("trainer", {}).get("lr", self.cfg.lr))
        for name, opt in self.recipe.optimizers.items():
            if name not in state["optimizers"]:
                raise CheckpointError(f"{state_path}: no state for optimizer {name!r}")
            fresh = [{k: v for k, v in g.items() if k not in _OPTIMIZER_STATEFUL} for g in opt.param_groups]
            opt.load_state_dict(state["optimizers"][name])
            self._apply_hyperparameters(opt, fresh, self.cfg.lr / saved_lr if saved_lr > 0 else 1.0)
        if state["scaler"]:
            self.precision.scaler.load_state_dict(state["scaler"])
        self.schedule.load_state_dict(state.get("schedule", {}))
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        random.setstate((3, tuple(rng["python"]), rng["python_pos"]))
        if rng.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.run_id = s_run or self.run_id
        loss_sum, count = state.get("epoch_loss", [0.0, 0])
        self._epoch_loss = torch.tensor(float(loss_sum), device=self.device) if count else None
        self._epoch_count = int(count)
        self._skipped_at_resume = int(state.get("skipped_steps", 0))
        self.resumed_from = self.step
        self.best = dict(state.get("best") or {})
        self.last_checkpoint = ckpt.CheckpointFiles(weights_path, state_path, self.step, self.run_id)
        self.pm.hook.after_load_checkpoint(trainer=self, checkpoint=state)

    def _record_resume(self, source: str | Path) -> None:
        """Say which settings changed on resume (all of them applied) and keep it in ``RUN/events.jsonl``."""
        if self.out_dir is None:
            return
        for key, old, new in self.resume_changes:
            self.log(f"resume: {key} {old!r} -> {new!r} (applied)")
        event = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "event": "resume", "from": str(source),
                 "step": self.step, "changes": {k: [a, b] for k, a, b in self.resume_changes}}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.out_dir / "events.jsonl", finite_json(event))

    @staticmethod
    def _apply_hyperparameters(opt: torch.optim.Optimizer, fresh: list[dict], lr_ratio: float) -> None:
        """After ``load_state_dict``: hyperparameters come from this run's config, not the checkpoint.

        ``Optimizer.load_state_dict`` restores every param-group option as saved; a resume with a
        changed ``trainer.lr``/``beta1``/``fused_optimizer`` would record the new values while
        training with the old ones. Rates keep their schedule (``initial_lr``) scaled by the change.
        """
        for group, new in zip(opt.param_groups, fresh, strict=True):
            group.update(new)
            if lr_ratio != 1.0:
                group["lr"] *= lr_ratio
                if "initial_lr" in group:
                    group["initial_lr"] *= lr_ratio

    # --- samples ---------------------------------------------------------------------
    def write_samples(self, batch: dict | None) -> None:
        if batch is None or self.out_dir is None or self.recipe is None:
            return
        with side_effect_free(self.recipe.nets, self.device), self.precision.autocast():
            images = self.recipe.sample(batch)
        save_grid(images, self.out_dir / "samples" / f"step_{self.step:07d}.png")
        self.pm.hook.after_sample(trainer=self, step=self.step, images=images)

    # --- logging ------------------------------------------------------------------------
    def _log_point(self) -> None:
        """Read the losses and the divergence flags (one sync), write the log row, call ``on_log``."""
        self.logged, self.logged_step = losses_as_floats(self.last_logs), self.step
        t0, s0 = self._rate
        rate = (self.step - s0) / max(1e-9, time.perf_counter() - t0)
        row: dict[str, Any] = {"step": self.step, "epoch": self.epoch, "lr": self.cfg.lr * self._lr_factor,
                               "it_s": round(rate, 4), "time": round(time.perf_counter() - t0, 3), **self.logged}
        if self.out_dir is not None:
            append_jsonl(self.out_dir / "losses.jsonl", finite_json(row))
        self.pm.hook.on_log(trainer=self, step=self.step,
                            logs={k: v for k, v in row.items() if k not in ("step", "epoch")})
        self._check_finite("at a log point")

    def _truncate_log(self) -> None:
        """On resume, drop log rows the interrupted run wrote after its checkpoint (they are replayed)."""
        if self.out_dir is None or self.resumed_from is None:
            return
        path = self.out_dir / "losses.jsonl"
        rows = read_jsonl(path)
        kept = [r for r in rows if int(r.get("step", 0)) <= self.resumed_from]
        if len(kept) != len(rows) or (path.is_file() and not path.read_text(encoding="utf-8").endswith("\n")):
            atomic_write_text(path, "".join(json.dumps(finite_json(r), allow_nan=False) + "\n" for r in kept))

    # --- the loop ----------------------------------------------------------------------
    def fit(self, recipe: Recipe, data: Any, *, resume: str | Path | None = None,
            sample_batch: dict | None = None, eval_data: Any = None) -> TrainResult:
        """Train ``recipe`` on ``data`` (a map-style dataset or a list of item dicts).

        Raises:
            TrainingInterrupted: SIGINT/SIGTERM; a checkpoint of the last finished step was saved.
            DivergenceError: a loss went non-finite under ``nan_policy=stop``.
        """
        if len(data) == 0:
            raise ConfigError("the training data set is empty")
        self.eval_data = eval_data
        if self.cfg.eval_every and eval_data is None:
            raise ConfigError("trainer.eval_every is set but there is no held-out split to score (data.test_split)")
        self._seed()
        self._prepare(recipe, resuming=resume is not None)
        loader, sampler = make_loader(data, self.batch_size, self.cfg.seed, num_workers=self.num_workers,
                                      rank=self.dist.rank, world=self.dist.world, **self.loader_options)
        self.steps_per_epoch = len(loader)
        epochs = self.cfg.n_epochs + self.cfg.n_epochs_decay
        self.total_steps = self.cfg.max_steps or max(1, epochs) * self.steps_per_epoch
        for cb in self.callbacks:  # before resuming: callbacks see after_load_checkpoint too
            self.pm.register(cb)
        try:
            if resume is not None:
                self.load_checkpoint(resume)
                self._record_resume(resume)
                if self.step > self.total_steps:
                    raise ConfigError(f"--resume: the checkpoint is at step {self.step}, past this run's budget of "
                                      f"{self.total_steps} steps (trainer.max_steps / n_epochs); raise the budget")
            if self.out_dir is not None:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                if self.run_config is not None:
                    atomic_write_json(self.out_dir / "config.json", self.run_config.model_dump())
                self._truncate_log()
            if sample_batch is not None:
                sample_batch = to_device(sample_batch, self.device, self.cfg.channels_last)
            ctx = StepContext(self.precision.scaler,
                              autocast=self.precision.autocast() if self.precision.dtype else None,
                              world_size=self.dist.world, skip_nonfinite=self.cfg.nan_policy == "skip")
            ctx.skipped = getattr(self, "_skipped_at_resume", 0)
            self._step_ctx = ctx
            with self.stop_request:
                if self.profile.name != "exact":
                    self.log(self.profile.summary())
                self.pm.hook.before_train(trainer=self)
                self._rate = (time.perf_counter(), self.step)
                self._loop(recipe, loader, sampler, ctx, sample_batch)
                if self.step >= self.total_steps:
                    self.save_checkpoint()
                    self.write_samples(sample_batch)
                    if self.out_dir is not None:
                        plot_losses(read_jsonl(self.out_dir / "losses.jsonl"), self.out_dir / "losses.png")
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

    def _loop(self, recipe: Recipe, loader: Any, sampler: Any, ctx: StepContext, sample_batch: dict | None) -> None:
        cfg = self.cfg
        while self.step < self.total_steps:
            self.epoch = self.step // self.steps_per_epoch + 1
            start = self.step - (self.epoch - 1) * self.steps_per_epoch
            sampler.set_epoch(self.epoch, start * self.batch_size)
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
                if logs:
                    first = next(iter(logs.values())).float().reshape(())
                    self._epoch_loss = first if self._epoch_loss is None else self._epoch_loss + first.to(
                        self._epoch_loss.device)
                    self._epoch_count += 1
                at_log = self.step % cfg.log_every == 0 or self.step == self.total_steps
                if at_log:
                    self._log_point()
                self.pm.hook.after_step(trainer=self, step=self.step, logs=logs)
                if self.step % cfg.sample_every == 0:
                    self.write_samples(sample_batch)
                if self.step % cfg.save_every == 0 and self.step < self.total_steps:
                    self.save_checkpoint()
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < self.total_steps:
                    self.evaluate_held_out()
                if self.step < self.total_steps and self._stop_requested(at_log):
                    self._stop_for_signal()
                if self.step >= self.total_steps:
                    break
            if self.step % self.steps_per_epoch == 0 or self.step >= self.total_steps:
                mean = (float(self._epoch_loss) / self._epoch_count
                        if self._epoch_loss is not None and self._epoch_count else None)
                self.schedule.end_epoch(mean)
                self._epoch_loss, self._epoch_count = None, 0

    def _stop_requested(self, at_log: bool) -> bool:
        if not self.dist.enabled:
            return self.stop_request.requested
        # ranks must stop at the same step; they agree where they already talk (log points)
        return at_log and reduce_max(int(self.stop_request.requested), self.device) > 0

    def _stop_for_signal(self) -> None:
        signum = self.stop_request.signum or 2
        self.save_checkpoint()
        where = f" in {self.last_checkpoint.weights.parent}" if self.last_checkpoint and self.out_dir else ""
        raise TrainingInterrupted(f"interrupted at step {self.step}/{self.total_steps}; checkpoint saved{where}",
                                  signum=signum)

    # --- held-out evaluation and the best checkpoint -----------------------------------------
    def evaluate_held_out(self, final: bool = False) -> dict[str, float]:
        """Score the held-out split (with the EMA weights when kept), call ``after_eval``, track the best.

        Side-effect free for training (RNG forked, BatchNorm buffers restored), so a run with
        ``eval_every`` trains exactly as one without. Every rank evaluates (no collective is
        involved); rank 0 writes.
        """
        assert self.recipe is not None
        if self.eval_data is None:
            return {}
        swap = self.ema.swapped_into(self.recipe.nets) if self.ema is not None else contextlib.nullcontext()
        with swap:
            scores = evaluate(self.recipe, self.eval_data, self.device, metrics=self.cfg.eval_metrics,
                              max_images=self.cfg.eval_max_images, autocast=self.precision.autocast(),
                              out_dir=self.out_dir if final else None, cache=self._eval_cache,
                              inception_weights=self.cfg.inception_weights, lpips_weights=self.cfg.lpips_weights)
        metrics = scores
        if self.out_dir is not None:
            append_jsonl(self.out_dir / "eval.jsonl", finite_json({"step": self.step, "ema": self.ema is not None,
                                                                   **metrics}))
        self.pm.hook.after_eval(trainer=self, step=self.step, metrics=metrics)
        self._track_best(metrics)
        return metrics

    def _track_best(self, metrics: dict[str, float]) -> None:
        name = self.cfg.best_metric
        if name == "none" or name not in metrics:
            return
        score = metrics[name]
        if not is_better(name, score, self.best.get("score")):
            return
        if self.last_checkpoint is None or self.last_checkpoint.step != self.step:
            self.save_checkpoint()
        self.best = {"metric": name, "score": score, "step": self.step}
        if self.out_dir is not None and self.last_checkpoint is not None:
            ckpt.write_pointer(self.out_dir / "checkpoints", "best", self.last_checkpoint,
                               extra={"metric": name, "score": score})
            self.log(f"best {name} so far: {score:.4f} at step {self.step} (checkpoints/best.json)")

    def write_index(self, metrics: dict | None = None) -> Path | None:
        """Write ``RUN/index.html`` from the samples and evaluation images on disk."""
        if self.out_dir is None:
            return None
        rel = lambda folder: sorted(str(p.relative_to(self.out_dir)) for p in (self.out_dir / folder).glob("*.png"))  # noqa: E731
        title = f"i2i run: {self.run_config.recipe if self.run_config else type(self.recipe).__name__}"
        return write_index(self.out_dir, title, [("Held-out translations", rel("eval")),
                                                  ("Samples during training", rel("samples")[-5:][::-1])], metrics)


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
