"""Learning-rate policies as per-epoch factors of each param group's initial rate.

Factors are applied by setting ``group["lr"] = group["initial_lr"] * factor`` at
the start of every epoch, so a recipe may replace an optimizer mid-run (pix2pixHD's
``niter_fix_global``) and the schedule still holds.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from i2i_core.config.schema import TrainerConfig


class LRSchedule:
    """Epoch -> learning-rate factor for ``trainer.lr_policy``.

    * ``linear`` (junyanz's lambda rule): 1 for ``n_epochs`` epochs, then
      ``1 - k / (n_epochs_decay + 1)`` in the k-th decay epoch.
    * ``linear_to_zero`` (pix2pixHD): 1 for ``n_epochs + 1`` epochs, then down by
      ``1 / n_epochs_decay`` per epoch, reaching 0 after the last one.
    * ``step``: x0.1 every ``lr_decay_iters`` epochs; ``cosine``: half cosine over
      ``n_epochs``; ``plateau``: x0.2 after 5 epochs without 1% improvement of
      the epoch-mean loss.
    """

    def __init__(self, cfg: TrainerConfig) -> None:
        self.cfg = cfg
        self.plateau = {"best": math.inf, "bad": 0, "factor": 1.0}

    def factor(self, epoch: int) -> float:
        c = self.cfg
        e = epoch + c.epoch_count - 1  # absolute epoch number, 1-based
        if c.lr_policy == "linear":
            return 1.0 - max(0, e - c.n_epochs) / float(c.n_epochs_decay + 1)
        if c.lr_policy == "linear_to_zero":
            if c.n_epochs_decay == 0:
                return 1.0
            return max(0.0, 1.0 - max(0, e - 1 - c.n_epochs) / float(c.n_epochs_decay))
        if c.lr_policy == "step":
            return 0.1 ** ((e - 1) // c.lr_decay_iters)
        if c.lr_policy == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(e - 1, c.n_epochs) / max(1, c.n_epochs)))
        return self.plateau["factor"]

    def end_epoch(self, metric: float | None) -> None:
        """Feed the epoch-mean loss to the plateau policy."""
        if self.cfg.lr_policy != "plateau" or metric is None:
            return
        p = self.plateau
        if metric < p["best"] * (1 - 0.01):
            p["best"], p["bad"] = metric, 0
        else:
            p["bad"] += 1
            if p["bad"] > 5:
                p["factor"] *= 0.2
                p["bad"] = 0

    def apply(self, optimizers: dict[str, torch.optim.Optimizer], epoch: int) -> float:
        f = self.factor(epoch)
        for opt in optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * f
        return f

    def state_dict(self) -> dict[str, Any]:
        return dict(self.plateau)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau.update(state)


class EpochMean:
    """The epoch mean of a step's first loss, for the plateau policy, summed on the device (read once per epoch)."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.count = 0

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        if not logs:
            return
        first = next(iter(logs.values())).float().reshape(())
        self.total = first if self.total is None else self.total + first.to(self.total.device)
        self.count += 1

    def pop(self) -> float | None:
        """The mean so far (None: nothing added), starting the next epoch's anew."""
        mean = float(self.total) / self.count if self.total is not None and self.count else None
        self.total, self.count = None, 0
        return mean

    def state(self) -> tuple[float, int]:
        return (float(self.total) if self.total is not None else 0.0, self.count)

    def load(self, total: float, count: int, device: torch.device) -> None:
        self.total = torch.tensor(float(total), device=device) if count else None
        self.count = int(count)
