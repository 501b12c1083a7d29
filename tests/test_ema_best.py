"""Generator EMA and the best checkpoint: saved, resumed exactly, chosen by a held-out score."""

from __future__ import annotations

import json

import pytest
import torch

from i2i_core import Engine, Trainer
from i2i_core.io import checkpoint as ckpt
from i2i_core.training.ema import EMA
from toy import ToyPlugin, toy_items


@pytest.fixture
def engine():
    return Engine([ToyPlugin()], autoload=False, warn=False)


def _fit(engine, tmp_path, steps, out="run", resume=None, **trainer):
    run = engine.resolve_config("toy", overrides={
        "trainer": {"max_steps": steps, "device": "cpu", "seed": 3, "save_every": 2, "log_every": 1,
                    "sample_every": 100, **trainer},
        "model": {"dropout": 0.3}, "data": {"batch_size": 2}})
    recipe = engine.build_recipe(run)
    t = Trainer(run.trainer, tmp_path / out, engine=engine, run_config=run, progress=False)
    t.fit(recipe, toy_items(6, size=16), resume=resume, eval_data=toy_items(4, size=16, seed=1))
    return t, recipe


def test_ema_follows_the_lerp_rule_without_host_sync():
    net = torch.nn.Linear(3, 2)
    ema = EMA({"G": net}, decay=0.9)
    before = ema.shadow["G"].weight.clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update()
    assert torch.allclose(ema.shadow["G"].weight, 0.9 * before + 0.1 * net.weight)
    assert ema.decay_at(0) == pytest.approx(0.1) and ema.decay_at(10**6) == 0.9  # warm-up, then the set decay


def test_ema_is_saved_and_resumes_bit_for_bit(engine, tmp_path):
    straight, _ = _fit(engine, tmp_path, 6, out="a", ema_decay=0.9)
    _fit(engine, tmp_path, 3, out="b", ema_decay=0.9)
    resumed, _ = _fit(engine, tmp_path, 6, out="b", resume=tmp_path / "b", ema_decay=0.9)
    for key, value in straight.ema.shadow["G"].state_dict().items():
        assert torch.equal(value, resumed.ema.shadow["G"].state_dict()[key]), key
    nets, _, _ = ckpt.load_weights(ckpt.find_weights(tmp_path / "a"))
    assert set(nets) == {"G", "ema.G"}
    assert not torch.equal(nets["G"]["0.weight"], nets["ema.G"]["0.weight"])  # the average lags the live weights


def test_periodic_evaluation_does_not_change_training(engine, tmp_path):
    _, with_eval = _fit(engine, tmp_path, 4, out="e1", eval_every=1)
    _, without = _fit(engine, tmp_path, 4, out="e2")
    for key, value in with_eval.nets["G"].state_dict().items():
        assert torch.equal(value, without.nets["G"].state_dict()[key]), key
    rows = [json.loads(line) for line in (tmp_path / "e1" / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all("psnr" in r for r in rows)


def test_best_checkpoint_is_kept_and_named_by_run_at_best(engine, tmp_path):
    trainer, _ = _fit(engine, tmp_path, 8, out="best", eval_every=1, best_metric="psnr", keep_checkpoints=1,
                      ema_decay=0.5)
    folder = tmp_path / "best" / "checkpoints"
    pointer = json.loads((folder / "best.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "best" / "eval.jsonl").read_text().splitlines()]
    best_row = max(rows, key=lambda r: r["psnr"])
    assert pointer["step"] == best_row["step"] == trainer.best["step"] and pointer["metric"] == "psnr"
    assert pointer["score"] == pytest.approx(best_row["psnr"])
    ref = ckpt.resolve_checkpoint(f"{tmp_path / 'best'}@best")
    assert ref.weights.parent.name == f"step_{pointer['step']:07d}" and ref.weights.is_file()
    assert ckpt.weights_header(ref.weights)["step"] == str(pointer["step"])  # kept despite keep_checkpoints=1


def test_best_score_survives_a_resume(engine, tmp_path):
    _fit(engine, tmp_path, 4, out="r", eval_every=1, best_metric="ssim")
    first = json.loads((tmp_path / "r" / "checkpoints" / "best.json").read_text())
    trainer, _ = _fit(engine, tmp_path, 6, out="r", resume=tmp_path / "r", eval_every=1, best_metric="ssim")
    assert trainer.best["score"] >= first["score"]


def test_best_metric_must_be_measurable(engine):
    run = engine.resolve_config("toy", overrides={"trainer": {"best_metric": "lpips"}})
    assert "lpips" in run.trainer.eval_metrics  # the best metric is always scored


def test_translate_and_eval_load_the_average_unless_told_not_to(engine, tmp_path):
    from i2i_core.inference.loading import load_for_inference

    _fit(engine, tmp_path, 4, out="inf", ema_decay=0.5)
    weights = ckpt.find_weights(tmp_path / "inf")
    saved, _, _ = ckpt.load_weights(weights)
    averaged, _ = load_for_inference(engine, weights, [], "cpu")
    last, _ = load_for_inference(engine, weights, [], "cpu", ema=False)
    for key, value in saved["ema.G"].items():
        assert torch.equal(averaged.nets["G"].state_dict()[key], value), key
    for key, value in saved["G"].items():
        assert torch.equal(last.nets["G"].state_dict()[key], value), key
