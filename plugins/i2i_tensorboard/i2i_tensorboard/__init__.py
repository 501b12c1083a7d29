"""TensorBoard logger for i2i, a plugin built only on the lifecycle hooks.

Enable it per run with ``--set 'trainer.loggers=["tensorboard"]'``; it writes event files to
``RUN/tensorboard/`` (``tensorboard --logdir runs``):

* ``loss_G/<name>`` and ``loss_D/<name>``: the losses every ``trainer.log_every`` steps, one
  chart group per network as on the results page;
* ``train/lr`` and ``train/it_s``: learning rate and iterations per second;
* ``samples/<name>``: the sample images, one tag per column (``real_A``, ``fake_B`` ...);
* ``eval/<metric>``: held-out scores (FID, PSNR ...) whenever the run evaluates;
* ``config``: the run config as text, once (``trainer.run_config``: with the speed profile applied);
* ``weights/<net>/<param>``: parameter histograms every N logged steps when the environment
  variable ``I2I_TENSORBOARD_HISTOGRAMS=N`` is set (off by default: they are large).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from i2i_core import ConfigError, hookimpl

if TYPE_CHECKING:
    from i2i_core import Trainer

__all__ = ["TensorBoardLogger"]


def _group(key: str) -> str:
    # discriminator losses are named D, D_A, D_real ... in every recipe; everything else is G's
    return "loss_D" if key == "D" or key.startswith("D_") else "loss_G"


class TensorBoardLogger:
    """Per-run callback writing TensorBoard event files.

    It reads only the trainer's documented attributes (``out_dir``, ``run_config``, ``step``, ``recipe``).

    Args:
        run_dir: the run folder; events go to ``run_dir/tensorboard``.
        config: the resolved :class:`i2i_core.RunConfig`, shown as text when the trainer has none
            (the trainer's is the one that trains: ``--fast`` applies its profile once the step budget is known).
        histogram_every: write parameter histograms every N logged steps (0: never; default
            from ``I2I_TENSORBOARD_HISTOGRAMS``).
    """

    def __init__(self, run_dir: str | Path, config: Any = None, histogram_every: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError("trainer.loggers: 'tensorboard' needs the tensorboard package "
                              f"({exc}); install it with pip install i2i-core[tensorboard]") from None
        self._writer_cls = SummaryWriter
        self.log_dir = Path(run_dir) / "tensorboard"
        self.config = config
        if histogram_every is None:
            raw = os.environ.get("I2I_TENSORBOARD_HISTOGRAMS", "0")
            if not raw.isdigit():
                raise ConfigError(f"I2I_TENSORBOARD_HISTOGRAMS={raw!r}: expected a whole number of logged steps (0: off)")
            histogram_every = int(raw)
        self.histogram_every = histogram_every
        self.writer: Any = None
        self._logged = 0

    def _open(self, trainer: Trainer) -> Any:
        # only the process that writes the run folder logs (rank 0 under torchrun)
        if self.writer is None and trainer.out_dir is not None:
            self.writer = self._writer_cls(log_dir=str(self.log_dir))
        return self.writer

    @hookimpl
    def before_train(self, trainer: Trainer) -> None:
        writer = self._open(trainer)
        config = trainer.run_config if trainer.run_config is not None else self.config
        if writer is not None and config is not None and hasattr(config, "model_dump"):
            text = json.dumps(config.model_dump(mode="json"), indent=2)
            writer.add_text("config", "```\n" + text + "\n```", global_step=trainer.step)

    @hookimpl
    def on_log(self, trainer: Trainer, step: int, logs: dict) -> None:
        writer = self._open(trainer)
        if writer is None:
            return
        for key, value in logs.items():
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            if key in ("lr", "it_s"):
                writer.add_scalar(f"train/{key}", value, step)
            elif key not in ("step", "epoch", "time"):
                writer.add_scalar(f"{_group(key)}/{key}", value, step)
        self._logged += 1
        if self.histogram_every and self._logged % self.histogram_every == 0 and trainer.recipe is not None:
            for net_name, net in trainer.recipe.nets.items():
                for name, param in net.named_parameters():
                    writer.add_histogram(f"weights/{net_name}/{name}", param.detach().float().cpu(), step)

    @hookimpl
    def after_sample(self, trainer: Trainer, step: int, images: dict) -> None:
        writer = self._open(trainer)
        if writer is None:
            return
        for name, batch in images.items():
            x = batch.detach().float().cpu()
            if x.dim() != 4:
                continue
            x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x[:, :3]
            writer.add_images(f"samples/{name}", ((x.clamp(-1, 1) + 1) / 2), step, dataformats="NCHW")

    @hookimpl
    def after_eval(self, trainer: Trainer, step: int, metrics: dict) -> None:
        writer = self._open(trainer)
        if writer is None:
            return
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and math.isfinite(value) and key not in ("images", "seconds"):
                writer.add_scalar(f"eval/{key}", value, step)
        writer.flush()

    @hookimpl
    def on_train_error(self, trainer: Trainer, error: BaseException) -> None:
        if self.writer is not None:
            self.writer.flush()

    @hookimpl
    def after_train(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@hookimpl
def register_loggers(register: Any) -> None:
    register("tensorboard", TensorBoardLogger,
             description="TensorBoard event files in RUN/tensorboard: losses, lr, samples, held-out scores")
