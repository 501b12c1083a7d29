"""A run, one way: :func:`plan_run` resolves the config once (fresh, or the checkpoint's own on
resume) -> :func:`train`: data -> recipe -> Trainer -> held-out scores -> report.

The command (``i2i run``, :meth:`Engine.run`) calls the two in turn; nothing here calls back into
the Engine's config resolution. The whole run holds ``RUN/.lock`` (:mod:`.runlock`): a second process on the same folder
is turned away with one line, and leftovers of a killed run (temporary files,
uncommitted checkpoint folders) are removed before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from i2i_core.base.atomic import remove_stale_temporaries
from i2i_core.base.errors import CheckpointError, ConfigError, DataError, TrainingInterrupted
from i2i_core.config.resolution import Change, Overrides, resolve_config, resolve_resumed
from i2i_core.config.schema import RunConfig
from i2i_core.evaluation.evaluate import FixedKeys
from i2i_core.evaluation.metrics import require_weights
from i2i_core.io import checkpoint as ckpt
from i2i_core.io.data import collate_same_size
from i2i_core.io.report import write_metrics_json
from i2i_core.io.runlock import RunLock
from i2i_core.training.precision import resolve_device, resolve_precision
from i2i_core.training.trainer import Trainer

if TYPE_CHECKING:
    from i2i_core.assembly.engine import Engine
    from i2i_core.registry.registries import Registries

#: files a run writes besides its checkpoints (removed when a folder without a complete checkpoint starts over)
RUN_OUTPUTS = ("losses.jsonl", "losses.png", "metrics.json", "index.html", "events.jsonl", "samples", "eval")


@dataclass
class RunResult:
    """What :func:`train` returns: the run folder, final losses and held-out metrics."""

    run_dir: Path
    config: RunConfig
    logs: dict
    metrics: dict


@dataclass(frozen=True)
class RunPlan:
    """A run resolved once, before anything is written: its config, its folder, what it continues.

    Args:
        config: the validated config it trains with.
        out_dir: the run folder.
        source: the checkpoint it continues (``None``: a new run).
        changes: ``(dotted key, old, new)`` settings a resumed run changes (applied by the trainer).
        auto: ``--resume auto``: continue ``out_dir``'s checkpoint if it has one.
    """

    config: RunConfig
    out_dir: Path
    source: ckpt.CheckpointFiles | None = None
    changes: list[Change] = field(default_factory=list)
    auto: bool = False


def plan_run(registries: Registries, recipe: str, preset: str | None = None, *, config_file: str | None = None,
             overrides: Overrides | None = None, out: str | None = None, resume: str | None = None) -> RunPlan:
    """Resolve the config once: a new run's, or the continued checkpoint's own plus the user's changes.

    Args:
        registries: where the recipe and its presets are looked up.
        recipe: registry name of the recipe.
        preset: preset of that recipe.
        config_file: TOML/JSON file merged over the preset.
        overrides: nested dict or ``["a.b=c", ...]`` merged last.
        out: run folder (default ``runs/<recipe>-<preset>``, or the folder of ``resume``).
        resume: ``"auto"`` (continue ``out`` when it holds a complete checkpoint, else start it
            over) or a run folder / ``RUN@step_N`` / checkpoint to continue (into ``out`` if given).

    Raises:
        ConfigError: a bad setting (checked before any folder is looked at for a new run).
        CheckpointError: ``resume`` names no checkpoint with training state.
    """
    if resume is None:  # a new run's settings are checked before its folder: a bad value is the error to report
        config = resolve_config(registries, recipe, preset, config_file, overrides)
        return RunPlan(config, Path(out) if out else _default_folder(recipe, preset))
    source: ckpt.CheckpointFiles | None = None
    if resume != "auto":
        try:
            source = ckpt.resolve_checkpoint(resume)
        except CheckpointError as exc:
            raise CheckpointError(f"--resume {resume}: no checkpoint there ({exc})") from None
        ckpt.find_resume(resume)  # one line when it holds no training state
    out_dir = Path(out) if out else (
        ckpt.run_folder_of(source.weights) if source is not None else _default_folder(recipe, preset))
    if resume == "auto":  # read only: train() checks under the folder's lock that it is still this checkpoint
        source = ckpt.committed_latest(out_dir / "checkpoints")
    if source is None:
        return RunPlan(resolve_config(registries, recipe, preset, config_file, overrides), out_dir, auto=True)
    config, changes = resolve_resumed(registries, _saved_config(source), recipe, preset, config_file, overrides,
                                      source=str(ckpt.run_folder_of(source.weights)))
    return RunPlan(config, out_dir, source, changes, auto=resume == "auto")


def train(engine: Engine, plan: RunPlan, *, progress: bool | None = None,
          callbacks: Iterable[object] = ()) -> RunResult:
    """Train a resolved :class:`RunPlan`: lock its folder, build data and recipe, train, score, report.

    Raises:
        ConfigError: the folder holds another run, or changed since the plan was made.
        TrainingInterrupted: Ctrl-C/SIGTERM; the last finished step was checkpointed.
    """
    out_dir = plan.out_dir
    is_main = int(os.environ.get("RANK", "0")) == 0
    lock = RunLock(out_dir, "--out")
    if is_main:
        lock.acquire()
    try:
        existing = _prepare_folder(out_dir) if is_main else ckpt.committed_latest(out_dir / "checkpoints")
        if plan.auto:
            if _step_of(existing) != _step_of(plan.source):
                raise ConfigError(f"{out_dir} changed while this run started (checkpoint of step "
                                  f"{_step_of(plan.source)} then {_step_of(existing)}); run the command again")
        elif plan.source is None and existing is not None:
            raise ConfigError(f"{out_dir} already holds a run (checkpoint of step {existing.step}); pass --resume auto "
                              f"to continue it or --out to start elsewhere")
        elif (plan.source is not None and existing is not None
              and ckpt.run_folder_of(plan.source.weights).resolve() != out_dir.resolve()):
            raise ConfigError(f"--out {out_dir} already holds another run (step {existing.step}); pick an empty --out "
                              f"to continue {plan.source.weights} there")
        if existing is None and is_main:
            _clear_outputs(out_dir)
        return _train(engine, plan.config, out_dir, plan.source, plan.changes, progress, callbacks)
    finally:
        lock.release()


def run(engine: Engine, recipe: str, preset: str | None = None, *, config_file: str | None = None,
        overrides: Overrides | None = None, out: str | None = None, resume: str | None = None,
        progress: bool | None = None, callbacks: Iterable[object] = ()) -> RunResult:
    """:func:`plan_run` then :func:`train` (what ``i2i run`` does); arguments as there."""
    plan = plan_run(engine.registries, recipe, preset, config_file=config_file, overrides=overrides, out=out,
                    resume=resume)
    return train(engine, plan, progress=progress, callbacks=callbacks)


def _default_folder(recipe: str, preset: str | None) -> Path:
    return Path("runs") / (f"{recipe}-{preset}" if preset else recipe)


def _step_of(ref: ckpt.CheckpointFiles | None) -> int | None:
    return None if ref is None else ref.step


def _saved_config(source: ckpt.CheckpointFiles) -> dict[str, Any]:
    meta = ckpt.weights_header(source.weights)
    try:
        saved = json.loads(meta["config"])
    except (KeyError, ValueError):
        raise CheckpointError(f"{source.weights}: no i2i config in its header; cannot resume from it") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{source.weights}: its header's config is not a mapping; cannot resume from it")
    return saved


def _prepare_folder(out_dir: Path) -> ckpt.CheckpointFiles | None:
    """Under the lock: remove what a killed run left half-written; return the committed checkpoint, if any."""
    remove_stale_temporaries(out_dir)
    folder = out_dir / "checkpoints"
    existing = ckpt.committed_latest(folder)
    if folder.is_dir():
        # step folders newer than the pointer were renamed into place but never published
        newest = existing.step if existing is not None and existing.step is not None else -1
        for path in folder.glob("step_*"):
            if path.is_dir() and path.name[5:].isdigit() and int(path.name[5:]) > newest:
                shutil.rmtree(path, ignore_errors=True)
    return existing


def _launcher() -> str:
    """How this process was started, for the resume hint: nothing, or torchrun with this job's shape."""
    world, local = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if world <= 1:
        return ""
    if world == local:
        return f"torchrun --standalone --nproc_per_node {local} --no-python "
    return "torchrun (this job's launcher options, on every node) --no-python "


def _clear_outputs(out_dir: Path) -> None:
    """A folder without a complete checkpoint starts over: its logs and images would mix with the new run's."""
    for name in RUN_OUTPUTS:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


def _train(engine: Engine, run: RunConfig, out_dir: Path, source: ckpt.CheckpointFiles | None,
           changes: list[tuple[str, Any, Any]], progress: bool | None, callbacks: Iterable[object]) -> RunResult:
    resolve_precision(run.trainer.precision, resolve_device(run.trainer.device))  # fp16 on CPU etc.: fail first
    t = run.trainer
    if t.evaluate or t.eval_every:  # a missing FID/LPIPS weights file fails now, not after days of training
        require_weights(t.eval_metrics, t.inception_weights, t.lpips_weights)
    rec = engine.build_recipe(run, device="cpu")  # unknown architectures etc. fail before any data is read
    datasets = engine.registries.datasets
    train = datasets.build(run.data.dataset, run.data, "train")
    try:
        held_out = datasets.build(run.data.dataset, run.data, run.data.test_split)
    except DataError:
        held_out = None
    rec.configure_dataset(train, "train")
    if held_out is not None:
        rec.configure_dataset(held_out, run.data.test_split)
    loggers = [engine.registries.loggers.build(name, run_dir=out_dir, config=run) for name in run.trainer.loggers]
    trainer = Trainer(run.trainer, out_dir, engine=engine, callbacks=[*loggers, *callbacks], run_config=run,
                      progress=progress)
    trainer.resume_changes = changes
    sample_src = held_out if held_out is not None else train
    keyed = FixedKeys(sample_src)
    sample_batch = collate_same_size([keyed[i] for i in range(min(4, len(keyed)))])
    try:
        result = trainer.fit(rec, train, resume=source.weights if source is not None else None,
                             sample_batch=sample_batch, eval_data=held_out)
    except TrainingInterrupted as stop:
        raise TrainingInterrupted(f"{stop}; continue with: {_launcher()}i2i run {run.recipe} --out {out_dir} "
                                  f"--resume auto", signum=stop.signum) from None
    metrics: dict = {}
    if run.trainer.evaluate and held_out is not None:
        metrics = trainer.evaluate_held_out(final=True)
        if trainer.out_dir is not None:
            write_metrics_json(out_dir / "metrics.json", metrics)
    trainer.write_index(metrics)
    # the trainer chose the profile on the real step budget: its config is the one that trained
    return RunResult(out_dir, trainer.run_config or run, result.logs, metrics)
