"""The TensorBoard logger: registered under ``loggers``, writes what the hooks hand it, readable by TensorBoard."""

from __future__ import annotations

from importlib import metadata
from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("tensorboard")

import i2i_tensorboard  # noqa: E402

from i2i_core import ConfigError, Engine, RunConfig  # noqa: E402
from i2i_core.testing import plugin_manager  # noqa: E402


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_registered_as_logger():
    engine = Engine([i2i_tensorboard], autoload=False, warn=False)
    entry = engine.registries.loggers.entry("tensorboard")
    assert entry.obj is i2i_tensorboard.TensorBoardLogger and "TensorBoard" in entry.description


def test_writes_losses_lr_samples_scores_and_histograms(tmp_path):
    engine = Engine([i2i_tensorboard], autoload=False, warn=False)
    logger = engine.registries.loggers.build("tensorboard", run_dir=tmp_path, config=None)
    logger.histogram_every = 1
    net = torch.nn.Conv2d(3, 3, 1)
    trainer = SimpleNamespace(out_dir=tmp_path, step=0, run_config=None, recipe=SimpleNamespace(nets={"G": net}))
    pm, _, _ = plugin_manager()  # the hook specs only, no progress bar
    pm.register(logger)
    try:
        pm.hook.before_train(trainer=trainer)
        for step in (10, 20):
            pm.hook.on_log(trainer=trainer, step=step, logs={"G_GAN": 1.0 / step, "D_real": 0.5, "lr": 2e-4,
                                                             "it_s": 3.0, "bad": float("nan")})
        pm.hook.after_sample(trainer=trainer, step=20, images={"real_A": torch.zeros(2, 1, 8, 8),
                                                               "fake_B": torch.ones(2, 3, 8, 8)})
        pm.hook.after_eval(trainer=trainer, step=20, metrics={"psnr": 21.5, "fid": float("nan"), "images": 4.0})
        pm.hook.after_train(trainer=trainer)
    finally:
        pm.unregister(logger)
    acc = _events(tmp_path / "tensorboard")
    tags = acc.Tags()
    assert {"loss_G/G_GAN", "loss_D/D_real", "train/lr", "train/it_s", "eval/psnr"} <= set(tags["scalars"])
    assert "loss_G/bad" not in tags["scalars"] and "eval/fid" not in tags["scalars"]  # NaN is skipped, not logged
    assert [(e.step, round(e.value, 6)) for e in acc.Scalars("loss_G/G_GAN")] == [(10, 0.1), (20, 0.05)]
    assert acc.Scalars("eval/psnr")[0].value == pytest.approx(21.5)
    assert {"samples/real_A", "samples/fake_B"} <= set(tags["images"])
    assert any(t.startswith("weights/G/") for t in tags["histograms"])


def test_config_text_is_the_one_that_trains(tmp_path):
    """``--fast`` applies its profile when fit starts: the text is ``trainer.run_config``, not the config at build."""
    built = RunConfig(recipe="toy")
    trained = built.model_copy(update={"trainer": built.trainer.model_copy(update={"fused_optimizer": True})})
    logger = i2i_tensorboard.TensorBoardLogger(tmp_path, built)
    logger.before_train(SimpleNamespace(out_dir=tmp_path, step=0, run_config=trained))
    logger.after_train(SimpleNamespace(out_dir=tmp_path))
    acc = _events(tmp_path / "tensorboard")
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"fused_optimizer": true' in text


def test_non_writing_rank_writes_nothing(tmp_path):
    logger = i2i_tensorboard.TensorBoardLogger(tmp_path, None)
    logger.on_log(SimpleNamespace(out_dir=None), 1, {"G": 1.0})
    assert not (tmp_path / "tensorboard").exists()


def test_bad_histogram_setting_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("I2I_TENSORBOARD_HISTOGRAMS", "often")
    with pytest.raises(ConfigError, match="I2I_TENSORBOARD_HISTOGRAMS='often'"):
        i2i_tensorboard.TensorBoardLogger(tmp_path)


def test_entry_point_loads_when_installed():
    try:
        metadata.distribution("i2i-tensorboard")
    except metadata.PackageNotFoundError:
        pytest.skip("i2i-tensorboard is not pip-installed here (pip install -e plugins/i2i_tensorboard)")
    _, loaded, broken = plugin_manager(autoload=True)
    assert "tensorboard" in loaded and not [b for b in broken if b.name == "tensorboard"]
    assert "tensorboard" in Engine(warn=False).registries.loggers
