"""The RNG state a checkpoint carries: a recipe drawing from NumPy's global generator resumes bit for bit."""

from __future__ import annotations

import os
import random
import signal

import numpy as np
import pytest
import torch

from i2i_core import Engine, Trainer, TrainingInterrupted, hookimpl
from i2i_core.io import checkpoint as ckpt
from i2i_core.training.checkpointing import capture_rng, restore_rng
from toy import ToyPlugin, ToyRecipe, toy_items


class NumpyDrawingRecipe(ToyRecipe):
    """Weights its loss by a draw from ``np.random`` each step, as a recipe sampling patch ids there would."""

    name = "toy_numpy"

    def __init__(self, config=None):
        super().__init__(config)
        self.draws: list[float] = []

    def training_step(self, batch, step):
        weight = float(np.random.rand())
        self.draws.append(weight)
        opt = self.optimizers["G"]
        step.zero_grad(opt)
        loss = (self.nets["G"](batch["A"]) - batch["B"]).abs().mean() * (0.5 + weight)
        step.backward(loss)
        step.optimizer_step(opt)
        return {"L1": loss.detach()}


class NumpyPlugin(ToyPlugin):
    @hookimpl
    def register_recipes(self, register):
        register("toy_numpy", NumpyDrawingRecipe, description="toy recipe drawing from np.random")


class StopAt:
    """Sends this process SIGTERM after ``step``: the trainer saves that step's checkpoint and stops."""

    def __init__(self, step: int) -> None:
        self.step = step

    @hookimpl
    def after_step(self, trainer, step, logs):
        if step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.fixture
def engine():
    return Engine([NumpyPlugin()], autoload=False, warn=False)


def _trainer(engine, out, *, callbacks=()):
    run = engine.resolve_config("toy_numpy", overrides={
        "trainer": {"max_steps": 6, "device": "cpu", "seed": 5, "save_every": 100, "sample_every": 100,
                    "log_every": 1},
        "data": {"batch_size": 2}})
    trainer = Trainer(run.trainer, out, engine=engine, run_config=run, progress=False, callbacks=callbacks)
    return trainer, engine.build_recipe(run)


def _fit(engine, out, *, resume=None):
    trainer, recipe = _trainer(engine, out)
    trainer.fit(recipe, toy_items(6), resume=resume)
    return recipe


def _interrupt_at(engine, out, step):
    trainer, recipe = _trainer(engine, out, callbacks=[StopAt(step)])
    with pytest.raises(TrainingInterrupted, match=f"interrupted at step {step}/6"):
        trainer.fit(recipe, toy_items(6))
    return recipe


def test_a_killed_and_resumed_run_draws_from_numpy_as_an_uninterrupted_one(engine, tmp_path):
    straight = _fit(engine, tmp_path / "straight")
    interrupted = _interrupt_at(engine, tmp_path / "resumed", 3)
    np.random.seed(12345)  # whatever this process drew in between must not matter
    resumed = _fit(engine, tmp_path / "resumed", resume=tmp_path / "resumed")
    assert len(straight.draws) == 6
    assert interrupted.draws == straight.draws[:3] and resumed.draws == straight.draws[3:]
    for key, value in straight.nets["G"].state_dict().items():
        assert torch.equal(value, resumed.nets["G"].state_dict()[key]), key


def test_a_checkpoint_without_numpy_state_still_resumes(engine, tmp_path):
    """Checkpoints written before the NumPy generator was saved load; NumPy keeps the run's seeded state."""
    _interrupt_at(engine, tmp_path / "old", 2)
    ref = ckpt.read_pointer(tmp_path / "old" / "checkpoints")
    state = ckpt.load_state(ref.state)
    assert set(state["rng"]["numpy"]) == {"keys", "pos", "has_gauss", "gauss"}
    del state["rng"]["numpy"]
    ckpt.save_state(ref.state, state)
    resumed = _fit(engine, tmp_path / "old", resume=tmp_path / "old")
    assert len(resumed.draws) == 4


def test_rng_record_round_trips_every_generator():
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    np.random.standard_normal()  # leaves a cached Gaussian: part of NumPy's state too
    saved = capture_rng()
    expected = (torch.rand(3), random.random(), np.random.rand(3), np.random.standard_normal())
    torch.manual_seed(2), random.seed(2), np.random.seed(2)
    restore_rng(saved)
    got = (torch.rand(3), random.random(), np.random.rand(3), np.random.standard_normal())
    assert torch.equal(got[0], expected[0]) and got[1] == expected[1]
    assert np.array_equal(got[2], expected[2]) and got[3] == expected[3]
    before = np.random.get_state()[1].copy()
    torch.manual_seed(3)
    restore_rng({k: v for k, v in saved.items() if k != "numpy"})  # an older record: NumPy left as it is
    assert np.array_equal(np.random.get_state()[1], before)
    assert torch.equal(torch.rand(3), expected[0])
