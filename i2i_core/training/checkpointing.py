"""A run's training state: what a checkpoint saves beside the weights, and how a resume restores it.

The state is everything a resumed run needs to continue the interrupted one bit for bit:
the optimizers, the grad scaler, the LR schedule, the recipe's own state (image pools ...),
the loop's counters and the global random generators (torch CPU and CUDA, Python's
``random``, NumPy's ``np.random``). Checkpoints written before NumPy's generator was saved
still load; their NumPy generator is left as the run's seed set it.

The files themselves (atomic commit, pointers, headers) are :mod:`i2i_core.io.checkpoint`'s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from i2i_core.base.errors import CheckpointError, DivergenceError, RunPathError
from i2i_core.io import checkpoint as ckpt
from i2i_core.recipe.contract import Recipe
from i2i_core.training.divergence import nonfinite_tensors
from i2i_core.training.schedule import LRSchedule

#: param-group entries a checkpoint restores; every other one (betas, eps, fused ...) is this run's config
_OPTIMIZER_STATEFUL = ("params", "lr", "initial_lr")


@dataclass
class LoopCounters:
    """Where the loop stood at a checkpoint, and the running values it carries across a resume."""

    step: int
    epoch: int
    run_id: str
    #: sum and count of this epoch's first loss so far (the plateau schedule's epoch mean)
    epoch_loss: tuple[float, int] = (0.0, 0)
    #: optimizer steps skipped for non-finite gradients (``trainer.nan_policy=skip``)
    skipped_steps: int = 0
    #: ``{"metric", "score", "step"}`` of the best held-out evaluation so far
    best: dict[str, Any] = field(default_factory=dict)


@dataclass
class SavedCheckpoint:
    """A checkpoint read for resuming: its files, its training state and its weights (EMA entries included)."""

    files: ckpt.CheckpointFiles
    state: dict[str, Any]
    weights: dict[str, dict[str, torch.Tensor]]
    counters: LoopCounters


# --- random generators -------------------------------------------------------------------
def capture_rng() -> dict[str, Any]:
    """The global generators' states, in types ``torch.load(weights_only=True)`` accepts."""
    numpy_state = np.random.get_state(legacy=True)  # ("MT19937", keys, pos, has_gauss, cached_gaussian)
    assert isinstance(numpy_state, tuple)
    python = random.getstate()
    return {"torch": torch.get_rng_state(), "python": list(python[1]), "python_pos": python[2],
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {"keys": torch.from_numpy(np.asarray(numpy_state[1], dtype=np.int64)),
                      "pos": int(numpy_state[2]), "has_gauss": int(numpy_state[3]), "gauss": float(numpy_state[4])}}


def restore_rng(rng: Mapping[str, Any]) -> None:
    """Set the global generators from :func:`capture_rng`'s record (one without ``numpy`` leaves NumPy's)."""
    torch.set_rng_state(rng["torch"])
    random.setstate((3, tuple(rng["python"]), rng["python_pos"]))
    if rng.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    saved = rng.get("numpy")
    if saved is not None:
        keys = saved["keys"].numpy().astype(np.uint32)
        np.random.set_state(("MT19937", keys, int(saved["pos"]), int(saved["has_gauss"]), float(saved["gauss"])))


# --- saving ------------------------------------------------------------------------------
def training_state(counters: LoopCounters, recipe: Recipe, scaler: torch.amp.GradScaler, schedule: LRSchedule,
                   config: dict[str, Any]) -> dict[str, Any]:
    """The ``state.pt`` dict of the current step."""
    return {
        "format": ckpt.FORMAT_VERSION, "step": counters.step, "epoch": counters.epoch, "config": config,
        "run_id": counters.run_id, "epoch_loss": list(counters.epoch_loss),
        "skipped_steps": counters.skipped_steps, "best": dict(counters.best),
        "optimizers": {k: o.state_dict() for k, o in recipe.optimizers.items()},
        "scaler": scaler.state_dict(), "schedule": schedule.state_dict(),
        "recipe": recipe.state_dict(), "rng": capture_rng(),
    }


def refuse_nonfinite_weights(nets: Mapping[str, torch.nn.Module], step: int,
                             last: ckpt.CheckpointFiles | None) -> None:
    """Raise :class:`DivergenceError` when a network's weights hold NaN/inf (such a checkpoint is never written)."""
    bad = nonfinite_tensors(dict(nets))
    if not bad:
        return
    kept = f"{last.weights.parent}" if last is not None else "none"
    more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
    raise DivergenceError(f"network weights became NaN/inf by step {step} ({bad[0]}{more}); no checkpoint written, "
                          f"the last finite one is {kept}; lower trainer.lr")


def commit(folder: Path, nets: Mapping[str, Any], state: dict[str, Any], *, keep: int,
           last: ckpt.CheckpointFiles | None) -> ckpt.CheckpointFiles:
    """Write weights and state as one atomic checkpoint of ``state["step"]``; a filesystem error is one line."""
    step, run_id, config = state["step"], state["run_id"], state["config"]
    try:
        return ckpt.commit_checkpoint(folder, step, lambda p: ckpt.save_weights(p, dict(nets), config, step, run_id),
                                      lambda p: ckpt.save_state(p, state), run_id=run_id, keep=keep)
    except OSError as exc:
        kept = (f"the previous checkpoint {last.weights.parent} (step {last.step}) is intact" if last is not None
                else "no earlier checkpoint exists")
        raise RunPathError(f"cannot write the step {step} checkpoint in {folder}: {exc.strerror or exc}; "
                           f"{kept}") from None


# --- resuming ----------------------------------------------------------------------------
def read(path: str | Path) -> SavedCheckpoint:
    """Read a checkpoint to resume from; refuse weights and state of different steps or runs."""
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
    weights, _, _ = ckpt.load_weights(weights_path)
    loss_sum, count = state.get("epoch_loss", [0.0, 0])
    counters = LoopCounters(int(state["step"]), int(state["epoch"]), s_run, (float(loss_sum), int(count)),
                            int(state.get("skipped_steps", 0)), dict(state.get("best") or {}))
    return SavedCheckpoint(ckpt.CheckpointFiles(weights_path, state_path, counters.step, s_run), state, weights,
                           counters)


def restore(saved: SavedCheckpoint, recipe: Recipe, scaler: torch.amp.GradScaler, schedule: LRSchedule,
            lr: float) -> None:
    """Restore the recipe's state, its optimizers (with this run's hyperparameters), scaler, schedule and RNG.

    The networks' weights are the caller's to load first (they may include an EMA).
    """
    state = saved.state
    # recipe state first: it may swap optimizers (pix2pixHD after niter_fix_global) before they load
    recipe.load_state_dict(state.get("recipe", {}))
    saved_lr = float((state.get("config") or {}).get("trainer", {}).get("lr", lr))
    for name, opt in recipe.optimizers.items():
        if name not in state["optimizers"]:
            raise CheckpointError(f"{saved.files.state}: no state for optimizer {name!r}")
        fresh = [{k: v for k, v in g.items() if k not in _OPTIMIZER_STATEFUL} for g in opt.param_groups]
        opt.load_state_dict(state["optimizers"][name])
        reapply_hyperparameters(opt, fresh, lr / saved_lr if saved_lr > 0 else 1.0)
    if state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    schedule.load_state_dict(state.get("schedule", {}))
    restore_rng(state["rng"])


def reapply_hyperparameters(opt: torch.optim.Optimizer, fresh: list[dict], lr_ratio: float) -> None:
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
