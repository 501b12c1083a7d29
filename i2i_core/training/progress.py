"""Default plugin: a rich progress bar, or plain lines when stdout is not a terminal.

Shown when ``Trainer(progress=True)``, or when ``progress`` is None and stdout is a
TTY. The bar draws on ``trainer.console``, so messages printed through ``trainer.log``
appear above it. It reads only the trainer's documented attributes; what it keeps per
run (start time, the bar) lives here, keyed by the trainer.
"""

from __future__ import annotations

import sys
import time
import weakref
from dataclasses import dataclass
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from i2i_core.registry._markers import hookimpl


@dataclass
class _Display:
    """One run's progress report: when and at which step it started, and its bar (None: plain lines)."""

    started: float
    first_step: int
    bar: Progress | None = None
    task: TaskID | None = None

    def rate(self, step: int) -> float:
        return (step - self.first_step) / max(1e-9, time.perf_counter() - self.started)


#: the display of each running trainer (weak: a trainer that is dropped takes its entry with it)
_displays: weakref.WeakKeyDictionary[Any, _Display] = weakref.WeakKeyDictionary()


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
    if not trainer.dist.is_main:  # one progress report per job, not per rank
        return
    display = _displays[trainer] = _Display(time.perf_counter(), trainer.step)
    if trainer.progress if trainer.progress is not None else sys.stdout.isatty():
        display.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("{task.fields[losses]}"), TextColumn("{task.fields[rate]}"),
                               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                               console=trainer.console, transient=False)
        display.bar.start()
        display.task = display.bar.add_task("train", total=trainer.total_steps, completed=trainer.step,
                                            losses="", rate="")


@hookimpl
def after_step(trainer: Any, step: int, logs: dict) -> None:
    # the losses shown are those of the last log point (trainer.logged): reading this step's
    # values would stall the loop on the device every iteration
    display = _displays.get(trainer)
    if display is None:
        return
    if display.bar is not None and display.task is not None:
        display.bar.update(display.task, completed=step, losses=_losses(trainer, step),
                           rate=f"{display.rate(step):.2f} it/s")
        return
    every = max(1, trainer.total_steps // 10)
    if step % every == 0 or step == trainer.total_steps:
        parts = [f"step {step}/{trainer.total_steps} epoch {trainer.epoch}", _losses(trainer, step),
                 f"({display.rate(step):.2f} it/s)"]
        print(" ".join(p for p in parts if p), flush=True)


@hookimpl
def after_train(trainer: Any) -> None:
    display = _displays.pop(trainer, None)
    if display is not None and display.bar is not None:
        display.bar.stop()
