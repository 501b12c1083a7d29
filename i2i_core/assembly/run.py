"""``Engine.run``: config -> data -> recipe -> training -> held-out scores -> report.

The whole run holds ``RUN/.lock`` (:mod:`.runlock`): a second process on the same folder
is turned away with one line, and leftovers of a killed run (temporary files,
uncommitted checkpoint folders) are removed before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from i2i_core.base.atomic import remove_stale_temporaries
from i2i_core.base.errors import CheckpointError, ConfigError, DataError, TrainingInterrupted
from i2i_core.config.schema import RunConfig
from i2i_core.evaluation.evaluate import FixedKeys
from i2i_core.evaluation.metrics import require_weights
from i2i_core.io import checkpoint as ckpt
from i2i_core.io.data import collate_same_size
from i2i_core.io.report import write_metrics_json
from i2i_core.io.runlock import RunLock
from i2i_core.training import profile as profiles
from i2i_core.training.precision import resolve_device, resolve_precision
from i2i_core.training.trainer import Trainer

if TYPE_CHECKING:
    from i2i_core.assembly.engine import Engine

#: settings a resumed run cannot take over: they define the data order, the batches or the
#: optimizer's state, so the run would no longer be the one its checkpoint continues
FIXED_ON_RESUME = {
    "data.batch_size": "the step counter and the data order are per batch",
    "data.dataset": "the data order is per data set",
    "data.direction": "the networks learned the other direction",
    "data.serial_batches": "the data order would change mid-epoch",
    "trainer.seed": "the data order and augmentation are derived from the seed",
    "trainer.optimizer": "the optimizer state belongs to the other optimizer",
    "trainer.init_from": "a resumed run takes its weights from the checkpoint",
}
#: files a run writes besides its checkpoints (removed when a folder without a complete checkpoint starts over)
RUN_OUTPUTS = ("losses.jsonl", "losses.png", "metrics.json", "index.html", "events.jsonl", "samples", "eval")


@dataclass
class RunResult:
    """What :meth:`Engine.run` returns: the run folder, final losses and held-out metrics."""

    run_dir: Path
    config: RunConfig
    logs: dict
    metrics: dict


def run(engine: Engine, recipe: str, preset: str | None = None, *, config_file: str | None = None,
        overrides: dict | list[str] | tuple[str, ...] | None = None, out: str | None = None,
        resume: str | None = None, progress: bool | None = None, callbacks: Iterable[object] = ()) -> RunResult:
    """Resolve the config, build data and recipe, train, score the held-out split, write the report.

    Args:
        recipe: registry name of the recipe.
        preset: preset of that recipe.
        config_file: TOML/JSON file merged over the preset.
        overrides: nested dict or ``["a.b=c", ...]`` merged last.
        out: run folder (default ``runs/<recipe>-<preset>``, or the folder of ``resume``).
        resume: ``"auto"`` (continue ``out`` when it holds a complete checkpoint, else start it
            over) or a run folder / ``RUN@step_N`` / checkpoint to continue (into ``out`` if given).

    Raises:
        TrainingInterrupted: Ctrl-C/SIGTERM; the last finished step was checkpointed.
    """
    source: ckpt.CheckpointFiles | None = None
    # a new run's settings are checked before its folder: a bad value is the error to report, whatever the folder holds
    fresh = engine.resolve_config(recipe, preset, config_file, overrides) if resume is None else None
    if resume not in (None, "auto"):
        try:
            source = ckpt.resolve_checkpoint(resume)
        except CheckpointError as exc:
            raise CheckpointError(f"--resume {resume}: no checkpoint there ({exc})") from None
        ckpt.find_resume(resume)  # one line when it holds no training state
    out_dir = Path(out) if out else (
        ckpt.run_folder_of(source.weights) if source is not None else
        Path("runs") / (f"{recipe}-{preset}" if preset else recipe))
    is_main = int(os.environ.get("RANK", "0")) == 0
    lock = RunLock(out_dir, "--out")
    if is_main:
        lock.acquire()
    try:
        existing = _prepare_folder(out_dir) if is_main else ckpt.committed_latest(out_dir / "checkpoints")
        if resume == "auto":
            source = existing
        elif source is None and existing is not None:
            raise ConfigError(f"{out_dir} already holds a run (checkpoint of step {existing.step}); pass --resume auto "
                              f"to continue it or --out to start elsewhere")
        elif source is not None and existing is not None and ckpt.run_folder_of(source.weights).resolve() != out_dir.resolve():
            raise ConfigError(f"--out {out_dir} already holds another run (step {existing.step}); pick an empty --out "
                              f"to continue {resume} there")
        if existing is None and is_main:
            _clear_outputs(out_dir)
        if source is not None:
            run_cfg, changes = _resume_config(engine, recipe, preset, config_file, overrides, source)
        else:
            if fresh is None:  # --resume auto into a folder with nothing to continue
                fresh = engine.resolve_config(recipe, preset, config_file, overrides)
            run_cfg, changes = fresh, []
        return _train(engine, run_cfg, out_dir, source, changes, progress, callbacks)
    finally:
        lock.release()


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


def _resume_config(engine: Engine, recipe: str, preset: str | None, config_file: str | None,
                   overrides: Any, source: ckpt.CheckpointFiles) -> tuple[RunConfig, list[tuple[str, Any, Any]]]:
    """The config a resumed run trains with: the checkpoint's own, plus ``--config``/``--set``/``--data``.

    Returns the config and the list of ``(dotted key, old, new)`` changes, each of which is applied
    (the trainer rescales the optimizers' rates, rebuilds the data, ...) or refused here.
    """
    meta = ckpt.weights_header(source.weights)
    try:
        saved = json.loads(meta["config"])
    except (KeyError, ValueError):
        raise CheckpointError(f"{source.weights}: no i2i config in its header; cannot resume from it") from None
    if saved.get("recipe") != recipe:
        raise ConfigError(f"--resume: {ckpt.run_folder_of(source.weights)} is a {saved.get('recipe')} run, not {recipe}")
    saved_preset = saved.get("preset")
    if preset is not None and preset != saved_preset:
        raise ConfigError(f"--resume: the run was trained with --preset {saved_preset}, not {preset}; drop --preset "
                          f"(the checkpoint's config is kept) or start a new run with --init-from")
    base = {k: v for k, v in saved.items() if k not in ("recipe", "preset")}
    run_cfg = engine.resolve_config(recipe, None, config_file, overrides, base=base)
    run_cfg.preset = saved_preset
    old = engine.validate({**base, "recipe": recipe, "preset": saved_preset}).model_dump()
    changes = _diff(old, run_cfg.model_dump())
    refused = [(k, a, b) for k, a, b in changes if k in FIXED_ON_RESUME]
    if refused:
        key, a, b = refused[0]
        raise ConfigError(f"--resume: {key} changed from {a!r} to {b!r}, which a resumed run cannot apply "
                          f"({FIXED_ON_RESUME[key]}); keep {a!r} or start a new run with --init-from")
    return run_cfg, changes


def _diff(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new)):
            out += _diff(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [(prefix[:-1], old, new)]


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
    if run.trainer.profile != "exact":  # decided on the real step budget (compile only pays back on long runs)
        per_epoch = -(-len(train) // run.data.batch_size)
        total = run.trainer.max_steps or max(1, run.trainer.n_epochs + run.trainer.n_epochs_decay) * per_epoch
        chosen = profiles.choose(run.trainer, resolve_device(run.trainer.device), total)
        run.trainer = profiles.apply(run.trainer, chosen)
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
    return RunResult(out_dir, run, result.logs, metrics)
