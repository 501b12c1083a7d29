"""The loop on CPU: hooks, logs, checkpoints, exact resume, schedules, precision."""

from __future__ import annotations

import json

import pytest
import torch

from i2i_core import ConfigError, Engine, RunConfig, Trainer, TrainerConfig, hookimpl
from i2i_core.training.schedule import LRSchedule
from toy import ToyPlugin, toy_items


@pytest.fixture
def engine():
    return Engine([ToyPlugin()], autoload=False, warn=False)


def _run(engine, tmp_path, steps, resume=None, out="run", **trainer):
    run = engine.resolve_config("toy", overrides={"trainer": {"max_steps": steps, "device": "cpu", "seed": 3,
                                                               "sample_every": 2, "log_every": 1, **trainer},
                                                   "model": {"dropout": 0.3}, "data": {"batch_size": 2}})
    recipe = engine.build_recipe(run)
    t = Trainer(run.trainer, tmp_path / out, engine=engine, run_config=run, progress=False)
    result = t.fit(recipe, toy_items(6), resume=resume, sample_batch=torch.utils.data.default_collate(toy_items(2)))
    return t, recipe, result


def test_fit_writes_log_samples_checkpoints(engine, tmp_path):
    t, recipe, result = _run(engine, tmp_path, 4)
    run_dir = tmp_path / "run"
    assert result.step == 4 and "L1" in result.logs
    lines = [json.loads(x) for x in (run_dir / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4]
    assert (run_dir / "samples" / "step_0000002.png").is_file()
    assert (run_dir / "checkpoints" / "latest.json").is_file()
    assert (run_dir / "checkpoints" / "step_0000004" / "model.safetensors").is_file()
    assert (run_dir / "losses.png").is_file()
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["recipe"] == "toy" and saved["trainer"]["max_steps"] == 4


def test_resume_continues_exactly(engine, tmp_path):
    _, straight, _ = _run(engine, tmp_path, 5, out="a")
    _run(engine, tmp_path, 2, out="b")
    t, resumed, _ = _run(engine, tmp_path, 5, out="b", resume=tmp_path / "b")
    assert t.step == 5
    for key, value in straight.nets["G"].state_dict().items():
        assert torch.equal(value, resumed.nets["G"].state_dict()[key]), key
    opt_a, opt_b = straight.optimizers["G"].state_dict(), resumed.optimizers["G"].state_dict()
    assert opt_a["state"][0]["step"] == opt_b["state"][0]["step"]


def test_sampling_does_not_change_training(engine, tmp_path):
    _, with_samples, _ = _run(engine, tmp_path, 4, out="s1", sample_every=1)
    _, without, _ = _run(engine, tmp_path, 4, out="s2", sample_every=1000)
    for key, value in with_samples.nets["G"].state_dict().items():
        assert torch.equal(value, without.nets["G"].state_dict()[key]), key


def test_lifecycle_hook_order(engine):
    calls = []

    class Spy:
        @hookimpl
        def before_train(self, trainer):
            calls.append("before_train")

        @hookimpl
        def before_step(self, trainer, batch):
            calls.append("before_step")

        @hookimpl
        def after_step(self, trainer, step, logs):
            calls.append(f"after_step{step}")

        @hookimpl
        def after_train(self, trainer):
            calls.append("after_train")

    run = engine.resolve_config("toy", overrides={"trainer": {"max_steps": 2, "device": "cpu"}})
    spy = Spy()
    Trainer(run.trainer, None, engine=engine, callbacks=[spy], progress=False).fit(engine.build_recipe(run), toy_items(2))
    assert calls == ["before_train", "before_step", "after_step1", "before_step", "after_step2", "after_train"]
    assert not engine.pm.is_registered(spy)


def test_error_hook_then_after_train(engine):
    seen = []

    class Watch:
        @hookimpl
        def on_train_error(self, trainer, error):
            seen.append(type(error).__name__)

        @hookimpl
        def after_train(self, trainer):
            seen.append("after_train")

    class Boom:
        @hookimpl
        def after_step(self, trainer, step, logs):
            raise RuntimeError("stop")

    run = engine.resolve_config("toy", overrides={"trainer": {"max_steps": 3, "device": "cpu"}})
    with pytest.raises(RuntimeError, match="stop"):
        Trainer(run.trainer, engine=engine, callbacks=[Watch(), Boom()], progress=False).fit(
            engine.build_recipe(run), toy_items(2))
    assert seen == ["RuntimeError", "after_train"]


def test_bf16_autocast_runs_on_cpu(engine):
    run = engine.resolve_config("toy", overrides={"trainer": {"max_steps": 1, "device": "cpu", "precision": "bf16"}})
    result = Trainer(run.trainer, engine=engine, progress=False).fit(engine.build_recipe(run), toy_items(2))
    assert result.step == 1 and torch.isfinite(torch.tensor(result.logs["L1"]))


def test_fp16_on_cpu_is_a_clear_error():
    with pytest.raises(ConfigError, match="fp16.*CUDA"):
        Trainer(TrainerConfig(precision="fp16", device="cpu"), engine=Engine(autoload=False, warn=False))


def test_empty_dataset_is_an_error(engine):
    run = engine.resolve_config("toy")
    with pytest.raises(ConfigError, match="empty"):
        Trainer(run.trainer, engine=engine, progress=False).fit(engine.build_recipe(run), [])


@pytest.mark.parametrize("policy,expected", [
    ("linear", [1.0, 1.0, 1 - 1 / 3, 1 - 2 / 3]),        # junyanz: n_epochs 2, decay 2
    ("linear_to_zero", [1.0, 1.0, 1.0, 0.5]),           # pix2pixHD: niter 2, niter_decay 2
    ("step", [1.0, 0.1, 0.1 ** 1, 0.01]),
])
def test_lr_policies(policy, expected):
    sched = LRSchedule(TrainerConfig(lr_policy=policy, n_epochs=2, n_epochs_decay=2, lr_decay_iters=1))
    got = [sched.factor(e) for e in range(1, 5)]
    if policy == "step":
        expected = [1.0, 0.1, 0.01, 0.001]
    assert got == pytest.approx(expected)
    if policy == "linear_to_zero":
        assert sched.factor(5) == pytest.approx(0.0)


def test_plateau_policy_reduces_after_patience():
    sched = LRSchedule(TrainerConfig(lr_policy="plateau"))
    sched.end_epoch(1.0)
    for _ in range(6):
        sched.end_epoch(1.0)
    assert sched.factor(8) == pytest.approx(0.2)


def test_init_from_copies_matching_tensors(engine, tmp_path):
    _run(engine, tmp_path, 2, out="src")
    run = engine.resolve_config("toy", overrides={"trainer": {"max_steps": 1, "device": "cpu",
                                                               "init_from": str(tmp_path / "src")}})
    t = Trainer(run.trainer, engine=engine, progress=False)
    recipe = engine.build_recipe(run)
    t.prepare(recipe)
    from i2i_core.io.checkpoint import find_weights, load_weights

    src, _, _ = load_weights(find_weights(tmp_path / "src"))
    assert torch.equal(recipe.nets["G"].state_dict()["0.weight"], src["G"]["0.weight"])


def test_every_hook_the_trainer_calls_is_a_lifecycle_hook():
    """``I2I_TRACE_PLUGINS=1`` hides exactly the per-run hooks: those whose first argument is the trainer."""
    import inspect

    from i2i_core.registry import hookspecs
    from i2i_core.registry.plugins import LIFECYCLE_HOOKS

    trainer_hooks = {name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
                     if hasattr(fn, "i2i_spec") and next(iter(inspect.signature(fn).parameters)) == "trainer"}
    assert trainer_hooks and LIFECYCLE_HOOKS == trainer_hooks


def test_fast_profile_is_chosen_once_on_the_real_step_budget(engine, tmp_path, i2i_one_thread):
    """The trainer decides when it knows the budget; the saved config and ``trainer.cfg`` say what trained.

    ``i2i_one_thread`` restores torch's thread count, which the fast profile sets, after the test."""
    run = engine.resolve_config("toy", overrides={"trainer": {"n_epochs": 1, "n_epochs_decay": 0, "device": "cpu",
                                                               "profile": "fast", "log_every": 1}})
    t = Trainer(run.trainer, tmp_path / "fast", engine=engine, run_config=run, progress=False)
    assert t.profile is None  # nothing chosen before the step budget is known
    t.fit(engine.build_recipe(run), toy_items(4))
    assert t.total_steps == 4 and t.profile is not None and t.profile.name == "fast"
    assert t.cfg.fused_optimizer and t.run_config.trainer.fused_optimizer and not run.trainer.fused_optimizer
    assert json.loads((tmp_path / "fast" / "config.json").read_text())["trainer"]["fused_optimizer"]


def test_run_config_rejects_unknown_sections():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="nope"):
        RunConfig(recipe="x", nope=1)
