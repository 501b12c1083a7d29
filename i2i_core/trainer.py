"""The training loop. It knows nothing of GANs: the recipe's ``training_step`` does.

Read top to bottom: setup (device, precision, seed, networks), optional resume,
then the loop: ``before_step`` -> ``training_step`` under autocast -> one
``scaler.update()`` -> ``after_step`` -> log / sample / checkpoint; errors go to
``on_train_error`` and ``after_train`` always runs.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch

from . import checkpoint as ckpt
from .config import RunConfig, TrainerConfig
from .data import make_loader, to_device
from .distributed import broadcast_module, init_from_env
from .errors import CheckpointError, ConfigError
from .evaluate import side_effect_free
from .precision import resolve_device, resolve_precision
from .recipe import BuildContext, Recipe, StepContext
from .report import append_jsonl, plot_losses, read_jsonl, save_grid, write_index
from .schedule import LRSchedule


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
        engine: plugin host whose lifecycle hooks are called (default: a fresh one with installed plugins).
        callbacks: per-run objects with ``@hookimpl`` lifecycle methods.
        run_config: the resolved run config saved with the checkpoints.
        progress: show the rich progress bar (None: only when stdout is a terminal).

    Example:
        >>> Trainer(TrainerConfig(max_steps=2)).fit(recipe, dataset)  # doctest: +SKIP
    """

    def __init__(self, cfg: TrainerConfig | None = None, out_dir: str | Path | None = None, *,
                 engine: Any = None, callbacks: Iterable[object] = (), run_config: RunConfig | None = None,
                 progress: bool | None = None, batch_size: int | None = None, num_workers: int = 0) -> None:
        self.cfg = cfg or TrainerConfig()
        self.dist = init_from_env("cuda" if self.cfg.device.startswith("cuda") or (
            self.cfg.device == "auto" and torch.cuda.is_available()) else "cpu")
        # only rank 0 writes files; the others train on their shard of every batch
        self.out_dir = Path(out_dir) if out_dir is not None and self.dist.is_main else None
        if engine is None:
            from .engine import Engine

            engine = Engine(warn=False)
        self.engine = engine
        self.pm = engine.pm
        self.callbacks = list(callbacks)
        self.run_config = run_config
        self.progress = progress
        self.batch_size = batch_size or (run_config.data.batch_size if run_config else 1)
        self.num_workers = num_workers if run_config is None else run_config.data.num_workers
        self.device = resolve_device(self.cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.precision = resolve_precision(self.cfg.precision, self.device)
        self.schedule = LRSchedule(self.cfg)
        self.step = 0
        self.epoch = 1
        self.steps_per_epoch = 0
        self.total_steps = 0
        self.recipe: Recipe | None = None
        self.last_logs: dict[str, float] = {}

    # --- setup -------------------------------------------------------------------------
    def _seed(self) -> None:
        torch.manual_seed(self.cfg.seed)
        random.seed(self.cfg.seed)
        if self.cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False

    def _prepare(self, recipe: Recipe) -> None:
        if not recipe.nets:
            data_cfg = self.run_config.data if self.run_config else None
            from .config import DataConfig

            ctx = BuildContext(self.engine.registries, self.cfg, data_cfg or DataConfig(), self.device)
            recipe.setup(ctx)
        for net in recipe.nets.values():
            net.to(self.device)
            if self.cfg.channels_last:
                net.to(memory_format=torch.channels_last)
        if self.dist.enabled:
            for net in recipe.nets.values():
                broadcast_module(net)
        if self.cfg.init_from:
            weights, _, _ = ckpt.load_weights(ckpt.find_weights(self.cfg.init_from))
            for name, (copied, total) in ckpt.copy_matching(recipe.nets, weights).items():
                self.log(f"init_from {self.cfg.init_from}: {name}: copied {copied}/{total} tensors")
        if self.cfg.compile:
            for net in recipe.nets.values():
                net.compile()  # in place: state_dict keys stay as they are
        self.recipe = recipe

    def log(self, message: str) -> None:
        console = getattr(self, "console", None)
        (console.print if console is not None else print)(message)

    # --- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self, tag: str = "latest") -> Path | None:
        if self.out_dir is None or self.recipe is None:
            return None
        folder = self.out_dir / "checkpoints"
        config = self.run_config.model_dump() if self.run_config else {}
        state: dict[str, Any] = {
            "format": ckpt.FORMAT_VERSION, "step": self.step, "epoch": self.epoch, "config": config,
            "optimizers": {k: o.state_dict() for k, o in self.recipe.optimizers.items()},
            "scaler": self.precision.scaler.state_dict(), "schedule": self.schedule.state_dict(),
            "recipe": self.recipe.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
                    "python_pos": random.getstate()[2],
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }
        self.pm.hook.before_save_checkpoint(trainer=self, checkpoint=state)
        names = ["latest"] + ([f"step_{self.step:07d}"] if tag != "latest" else [])
        for name in names:  # weights first: a state file never points at missing weights
            ckpt.save_weights(folder / f"{name}.safetensors", self.recipe.nets, config, self.step)
            ckpt.save_state(folder / f"{name}.pt", state)
        old = sorted(folder.glob("step_*.pt"))[: -self.cfg.keep_checkpoints]
        for path in old:
            path.unlink(missing_ok=True)
            path.with_suffix(".safetensors").unlink(missing_ok=True)
        return folder / "latest.safetensors"

    def load_checkpoint(self, path: str | Path) -> None:
        weights_path, state_path = ckpt.find_resume(path)
        nets, _, _ = ckpt.load_weights(weights_path)
        ckpt.load_into(self.recipe.nets, nets, weights_path)
        state = ckpt.load_state(state_path)
        # recipe state first: it may swap optimizers (pix2pixHD after niter_fix_global) before they load
        self.recipe.load_state_dict(state.get("recipe", {}))
        for name, opt in self.recipe.optimizers.items():
            if name not in state["optimizers"]:
                raise CheckpointError(f"{state_path}: no state for optimizer {name!r}")
            opt.load_state_dict(state["optimizers"][name])
        self.precision.scaler.load_state_dict(state["scaler"]) if state["scaler"] else None
        self.schedule.load_state_dict(state.get("schedule", {}))
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        random.setstate((3, tuple(rng["python"]), rng["python_pos"]))
        if rng.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.pm.hook.after_load_checkpoint(trainer=self, checkpoint=state)

    # --- samples ---------------------------------------------------------------------
    def write_samples(self, batch: dict | None) -> None:
        if batch is None or self.out_dir is None:
            return
        with side_effect_free(self.recipe.nets, self.device), self.precision.autocast():
            images = self.recipe.sample(batch)
        save_grid(images, self.out_dir / "samples" / f"step_{self.step:07d}.png")
        self.pm.hook.after_sample(trainer=self, step=self.step, images=images)

    # --- the loop ----------------------------------------------------------------------
    def fit(self, recipe: Recipe, data: Any, *, resume: str | Path | None = None,
            sample_batch: dict | None = None) -> TrainResult:
        """Train ``recipe`` on ``data`` (a map-style dataset or a list of item dicts)."""
        if len(data) == 0:
            raise ConfigError("the training data set is empty")
        self._seed()
        self._prepare(recipe)
        loader, sampler = make_loader(data, self.batch_size, self.cfg.seed, num_workers=self.num_workers,
                                      pin_memory=self.device.type == "cuda", rank=self.dist.rank,
                                      world=self.dist.world)
        self.steps_per_epoch = len(loader)
        epochs = self.cfg.n_epochs + self.cfg.n_epochs_decay
        self.total_steps = self.cfg.max_steps or max(1, epochs) * self.steps_per_epoch
        if resume is not None:
            self.load_checkpoint(resume)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if self.run_config is not None:
                ckpt.atomic_write_text(self.out_dir / "config.json", json.dumps(self.run_config.model_dump(), indent=2))
        if sample_batch is not None:
            sample_batch = to_device(sample_batch, self.device, self.cfg.channels_last)
        for cb in self.callbacks:
            self.pm.register(cb)
        ctx = StepContext(self.precision.scaler, autocast=self.precision.autocast() if self.precision.dtype else None,
                          world_size=self.dist.world)
        try:
            self.pm.hook.before_train(trainer=self)
            t0, done_at_start = time.perf_counter(), self.step
            while self.step < self.total_steps:
                self.epoch = self.step // self.steps_per_epoch + 1
                start = self.step - (self.epoch - 1) * self.steps_per_epoch
                sampler.set_epoch(self.epoch, start * self.batch_size)
                recipe.on_epoch_start(self.epoch)
                lr_factor = self.schedule.apply(recipe.optimizers, self.epoch)
                epoch_losses: list[float] = []
                for batch in loader:
                    batch = to_device(batch, self.device, self.cfg.channels_last)
                    self.pm.hook.before_step(trainer=self, batch=batch)
                    ctx.step, ctx.epoch = self.step + 1, self.epoch
                    with self.precision.autocast():
                        logs = {k: float(v) for k, v in recipe.training_step(batch, ctx).items()}
                    self.precision.scaler.update()  # once per iteration, after every optimizer stepped
                    self.step += 1
                    self.last_logs = logs
                    if logs:
                        epoch_losses.append(next(iter(logs.values())))
                    self.pm.hook.after_step(trainer=self, step=self.step, logs=logs)
                    if self.out_dir is not None and (self.step % self.cfg.log_every == 0 or self.step == self.total_steps):
                        rate = (self.step - done_at_start) / max(1e-9, time.perf_counter() - t0)
                        append_jsonl(self.out_dir / "losses.jsonl", {"step": self.step, "epoch": self.epoch,
                                     "lr": self.cfg.lr * lr_factor, "it_s": round(rate, 4), **logs})
                    if self.step % self.cfg.sample_every == 0:
                        self.write_samples(sample_batch)
                    if self.step % self.cfg.save_every == 0:
                        self.save_checkpoint(tag="step")
                    if self.step >= self.total_steps:
                        break
                self.schedule.end_epoch(sum(epoch_losses) / len(epoch_losses) if epoch_losses else None)
            self.save_checkpoint()
            self.write_samples(sample_batch)
            if self.out_dir is not None:
                plot_losses(read_jsonl(self.out_dir / "losses.jsonl"), self.out_dir / "losses.png")
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt) and self.step > 0:
                self.save_checkpoint()  # Ctrl-C keeps the progress: resume with --resume auto
                self.log(f"interrupted at step {self.step}; checkpoint saved, continue with --resume auto")
            self.pm.hook.on_train_error(trainer=self, error=error)
            raise
        finally:
            try:
                self.pm.hook.after_train(trainer=self)
            finally:
                for cb in self.callbacks:
                    self.pm.unregister(cb)
        return TrainResult(self.out_dir, self.step, dict(self.last_logs))

    def write_index(self, metrics: dict | None = None) -> Path | None:
        """Write ``RUN/index.html`` from the samples and evaluation images on disk."""
        if self.out_dir is None:
            return None
        rel = lambda folder: sorted(str(p.relative_to(self.out_dir)) for p in (self.out_dir / folder).glob("*.png"))  # noqa: E731
        title = f"i2i run: {self.run_config.recipe if self.run_config else type(self.recipe).__name__}"
        return write_index(self.out_dir, title, [("Held-out translations", rel("eval")),
                                                  ("Samples during training", rel("samples")[-5:][::-1])], metrics)
