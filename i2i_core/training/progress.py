"""Default plugin: a rich progress bar, or plain lines when stdout is not a terminal.

Shown when ``Trainer(progress=True)``, or when ``progress`` is None and stdout is a
TTY. Messages printed through ``trainer.log`` appear above the bar.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from i2i_core.registry._markers import hookimpl


def _fmt(logs: dict[str, float], limit: int = 6) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in list(logs.items())[:limit])


def _losses(trainer: Any, step: int) -> str:
    """The last log point's losses, naming their step when it is not this one (they are read every log_every)."""
    if not trainer.logged:
        return ""
    text = _fmt(trainer.logged)
    return text if trainer.logged_step == step else f"[step {trainer.logged_step}] {text}"


@hookimpl
def before_train(trainer: Any) -> None:
    enabled = trainer.progress if trainer.progress is not None else sys.stdout.isatty()
    trainer._quiet = not trainer.dist.is_main  # one progress report per job, not per rank
    trainer.console = Console()
    trainer._progress_t0 = (time.perf_counter(), trainer.step)
    trainer._progress = None
    if enabled and not trainer._quiet:
        bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[losses]}"), TextColumn("{task.fields[rate]}"),
                       TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=trainer.console,
                       transient=False)
        bar.start()
        trainer._progress = (bar, bar.add_task("train", total=trainer.total_steps, completed=trainer.step,
                                               losses="", rate=""))


@hookimpl
def after_step(trainer: Any, step: int, logs: dict) -> None:
    # the losses shown are those of the last log point (trainer.logged): reading this step's
    # values would stall the loop on the device every iteration
    if trainer._quiet:
        return
    t0, s0 = trainer._progress_t0
    rate = (step - s0) / max(1e-9, time.perf_counter() - t0)
    if trainer._progress is not None:
        bar, task = trainer._progress
        bar.update(task, completed=step, losses=_losses(trainer, step), rate=f"{rate:.2f} it/s")
        return
    every = max(1, trainer.total_steps // 10)
    if step % every == 0 or step == trainer.total_steps:
        parts = [f"step {step}/{trainer.total_steps} epoch {trainer.epoch}", _losses(trainer, step), f"({rate:.2f} it/s)"]
        print(" ".join(p for p in parts if p), flush=True)


@hookimpl
def after_train(trainer: Any) -> None:
    progress = getattr(trainer, "_progress", None)
    if progress is not None:
        progress[0].stop()
        trainer._progress = None
