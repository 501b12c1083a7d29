"""Held-out evaluation during a run and the best checkpoint it picks (``trainer.best_metric``).

Every ``trainer.eval_every`` steps, and once at the end when ``trainer.evaluate`` is set, the
trainer scores the held-out split (with the EMA weights when it keeps them), appends the scores
to ``eval.jsonl``, calls ``after_eval``, and, when ``best_metric`` improved, makes sure a
checkpoint of this step exists and points ``checkpoints/best.json`` at it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from i2i_core.evaluation.evaluate import evaluate
from i2i_core.evaluation.metrics import is_better

if TYPE_CHECKING:
    from i2i_core.training.trainer import Trainer


class HeldOut:
    """The held-out split a run scores and its best score so far.

    It reads the trainer's public members, as a hook does, and calls its public methods
    (:meth:`Trainer.save_checkpoint`, :meth:`Trainer.log`); the trainer holds one as
    ``trainer.held_out``.

    Args:
        data: the held-out data set (None: nothing to score).

    Attributes:
        best: ``{"metric", "score", "step"}`` of the best evaluation so far (``trainer.best``, saved in
            every checkpoint and restored on resume).
    """

    def __init__(self, data: Any = None) -> None:
        self.data = data
        self.best: dict[str, Any] = {}
        self._cache: dict = {}  # the targets' Inception features, computed at the first evaluation

    def evaluate(self, trainer: Trainer, *, final: bool = False) -> dict[str, float]:
        """Score :attr:`data` with ``trainer``'s networks, call ``after_eval``, track the best.

        Side-effect free for training (RNG forked, BatchNorm buffers restored), so a run with
        ``eval_every`` trains exactly as one without. Every rank evaluates (no collective is
        involved); rank 0 writes. ``final``: also write the evaluation images into the run folder.
        """
        recipe, cfg = trainer.recipe, trainer.cfg
        assert recipe is not None
        if self.data is None:
            return {}
        swap = trainer.ema.swapped_into(recipe.nets) if trainer.ema is not None else contextlib.nullcontext()
        with swap:
            metrics = evaluate(recipe, self.data, trainer.device, metrics=cfg.eval_metrics,
                               max_images=cfg.eval_max_images, autocast=trainer.precision.autocast(),
                               out_dir=trainer.out_dir if final else None, cache=self._cache,
                               inception_weights=cfg.inception_weights, lpips_weights=cfg.lpips_weights)
        trainer.folder.append_eval(trainer.step, trainer.ema is not None, metrics)
        trainer.pm.hook.after_eval(trainer=trainer, step=trainer.step, metrics=metrics)
        self._track_best(trainer, metrics)
        return metrics

    def _track_best(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        """A better ``best_metric``: checkpoint this step (unless just done), remember it, point ``best.json`` at it."""
        name, step = trainer.cfg.best_metric, trainer.step
        if name == "none" or name not in metrics or not is_better(name, metrics[name], self.best.get("score")):
            return
        if trainer.last_checkpoint is None or trainer.last_checkpoint.step != step:
            trainer.save_checkpoint()  # saves the previous best: this one is recorded once it is on disk
        self.best = {"metric": name, "score": metrics[name], "step": step}
        if trainer.out_dir is not None and trainer.last_checkpoint is not None:
            trainer.folder.point_best(trainer.last_checkpoint, name, metrics[name])
            trainer.log(f"best {name} so far: {metrics[name]:.4f} at step {step} (checkpoints/best.json)")
