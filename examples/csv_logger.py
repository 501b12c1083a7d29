"""A third-party live logger in one file: every logged value of a run as rows of ``RUN/log.csv``.

A W&B or MLflow logger has the same shape: a class whose ``@hookimpl`` methods receive the
run's events, and a ``register_loggers`` hook that names it. Replace the CSV writes with
``wandb.log(logs, step=step)`` / ``mlflow.log_metrics(logs, step=step)``.

Use it without installing anything::

    from i2i_core import Engine
    import csv_logger  # this file

    engine = Engine(plugins=[csv_logger])
    engine.run("pix2pix", "demo", overrides={"trainer": {"loggers": ["csv"]}})

or ship it as a package with ``[project.entry-points.i2i] csv_logger = "csv_logger"``
(see ``examples/plugin_example/``); then ``--set 'trainer.loggers=["csv"]'`` enables it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from i2i_core import hookimpl

if TYPE_CHECKING:
    from i2i_core import Trainer


class CSVLogger:
    """Appends ``kind,step,name,value`` rows (kind: ``train`` or ``eval``) to ``RUN/log.csv``.

    Args:
        run_dir: the run folder.
        config: the resolved run config (unused here; a W&B logger would send it as the run's config).
    """

    def __init__(self, run_dir: str | Path, config: Any = None) -> None:
        self.path = Path(run_dir) / "log.csv"

    def _write(self, kind: str, step: int, values: dict) -> None:
        new = not self.path.is_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            if new:
                out.writerow(["kind", "step", "name", "value"])
            for name, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    out.writerow([kind, step, name, value])

    @hookimpl
    def on_log(self, trainer: Trainer, step: int, logs: dict) -> None:
        if trainer.out_dir is not None:  # rank 0 only under torchrun
            self._write("train", step, logs)

    @hookimpl
    def after_eval(self, trainer: Trainer, step: int, metrics: dict) -> None:
        if trainer.out_dir is not None:
            self._write("eval", step, metrics)


@hookimpl
def register_loggers(register: Any) -> None:
    register("csv", CSVLogger, description="every logged loss and score as rows of RUN/log.csv")
