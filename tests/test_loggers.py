"""The loggers registry and the CSV logger example: registered by a hook, built per run, fed by the trainer."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
import torch

from i2i_core import Engine, Trainer, hookimpl
from i2i_core.registry.plugins import make_plugin_manager
from toy import ToyPlugin, toy_items

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import csv_logger  # noqa: E402


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_register_loggers_fills_the_registry_with_provider():
    engine = Engine([csv_logger, ToyPlugin()], autoload=False, warn=False)
    entry = engine.registries.loggers.entry("csv")
    assert entry.obj is csv_logger.CSVLogger and entry.plugin and "log.csv" in entry.description
    assert "loggers" in engine.registries.kinds()


def test_unknown_logger_suggests_the_close_name():
    engine = Engine([csv_logger], autoload=False, warn=False)
    with pytest.raises(KeyError, match="Did you mean: csv"):
        engine.registries.loggers.build("cvs", run_dir=".", config=None)


def test_broken_logger_registration_is_reported_not_fatal():
    class Broken:
        @hookimpl
        def register_loggers(self, register):
            raise RuntimeError("no wandb here")

    engine = Engine([Broken(), csv_logger], autoload=False, warn=False)
    assert "csv" in engine.registries.loggers
    assert any(hook == "register_loggers" and "no wandb" in str(exc) for _, hook, exc in engine.registries.errors)


def test_csv_logger_gets_train_and_eval_values_through_the_hooks(tmp_path):
    engine = Engine([csv_logger, ToyPlugin()], autoload=False, warn=False)
    logger = engine.registries.loggers.build("csv", run_dir=tmp_path, config=None)
    pm, _, _ = make_plugin_manager(autoload=False, warn=False)
    pm.register(logger)
    trainer = type("T", (), {"out_dir": tmp_path})()
    pm.hook.on_log(trainer=trainer, step=10, logs={"G": 1.5, "lr": 2e-4, "it_s": 4.0})
    pm.hook.after_eval(trainer=trainer, step=10, metrics={"fid": float("nan"), "psnr": 20.0})
    rows = _rows(tmp_path / "log.csv")
    assert [(r["kind"], r["step"], r["name"], float(r["value"])) for r in rows] == [
        ("train", "10", "G", 1.5), ("train", "10", "lr", 2e-4), ("train", "10", "it_s", 4.0),
        ("eval", "10", "psnr", 20.0)]  # NaN FID is left out rather than written as 'nan'


def test_csv_logger_as_trainer_callback_sees_every_log_step(tmp_path):
    engine = Engine([csv_logger, ToyPlugin()], autoload=False, warn=False)
    run = engine.resolve_config("toy", overrides={"trainer": {"max_steps": 4, "log_every": 2, "device": "cpu",
                                                             "sample_every": 100, "save_every": 100}})
    logger = engine.registries.loggers.build("csv", run_dir=tmp_path, config=run)
    trainer = Trainer(run.trainer, tmp_path, engine=engine, callbacks=[logger], run_config=run, progress=False)
    trainer.fit(engine.build_recipe(run), toy_items(4),
                sample_batch=torch.utils.data.default_collate(toy_items(2)))
    rows = _rows(tmp_path / "log.csv")
    assert sorted({int(r["step"]) for r in rows if r["name"] == "L1"}) == [2, 4]
    assert {"L1", "lr", "it_s"} <= {r["name"] for r in rows}
    assert logger not in engine.pm.get_plugins()  # per-run callbacks are unregistered after fit
