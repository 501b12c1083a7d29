"""evaluate(): every metric through the real code paths (random feature networks), no side effects, i2i eval."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner

from i2i_core import Engine
from i2i_core.evaluation import metrics as M
from i2i_core.evaluation.evaluate import evaluate
from toy import ToyPlugin, toy_items


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    return {"inception_weights": M.write_random_weights("inception", folder / M.INCEPTION_FILE, seed=0),
            "lpips_weights": M.write_random_weights("lpips", folder / M.LPIPS_FILE, seed=0)}


@pytest.fixture
def toy():
    engine = Engine([ToyPlugin()], autoload=False, warn=False)
    run = engine.resolve_config("toy", overrides={"trainer": {"device": "cpu"}})
    recipe = engine.build_recipe(run)
    return recipe


def _state(recipe):
    return {f"{n}.{k}": v.clone() for n, net in recipe.nets.items() for k, v in net.state_dict().items()}


def test_every_metric_with_baselines_and_no_side_effects(toy, weights, tmp_path):
    items = toy_items(4, size=32)
    before, rng, modes = _state(toy), torch.get_rng_state(), [m.training for m in toy.nets["G"].modules()]
    scores = evaluate(toy, items, "cpu", metrics=["fid", "kid", "lpips", "psnr", "ssim"], max_images=2,
                      out_dir=tmp_path, **weights)
    for name in ("fid", "kid", "lpips", "psnr", "ssim"):
        assert math.isfinite(scores[name]) and math.isfinite(scores[f"baseline_{name}"]), name
    assert scores["images"] == 2 and "kid_std" in scores and scores["seconds"] > 0
    # the baseline scores the input itself: compute it by hand for PSNR
    a, b = torch.stack([i["A"] for i in items[:2]]), torch.stack([i["B"] for i in items[:2]])
    assert scores["baseline_psnr"] == pytest.approx(float(M.psnr(a, b).mean()), abs=1e-5)
    # nothing about training changed: weights, BN statistics, RNG, train/eval modes
    after = _state(toy)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(torch.get_rng_state(), rng)
    assert [m.training for m in toy.nets["G"].modules()] == modes
    assert (tmp_path / "eval" / "heldout.png").is_file()
    json.loads(scores.to_json())


@pytest.mark.slow  # Inception at 299x299 on a CPU: about a second per image
def test_identical_prediction_scores_zero_fid(toy, weights):
    toy.translate = lambda batch: batch["B"]  # a perfect model
    scores = evaluate(toy, toy_items(2, size=16), "cpu", metrics=["fid", "psnr"], **weights)
    assert abs(scores["fid"]) < 1e-3 and scores["psnr"] > 90


@pytest.mark.slow
def test_cache_reuses_the_targets_features(toy, weights, monkeypatch):
    cache: dict = {}
    items = toy_items(3, size=16)  # the cache is per data set object
    first = evaluate(toy, items, "cpu", metrics=["fid"], cache=cache, **weights)
    calls = []
    real = M.inception_features(weights["inception_weights"])
    monkeypatch.setattr(real, "forward", lambda x, _f=real.forward: calls.append(x.shape[0]) or _f(x))
    again = evaluate(toy, items, "cpu", metrics=["fid"], cache=cache, **weights)
    assert again["fid"] == pytest.approx(first["fid"], rel=1e-9)
    assert sum(calls) == 6  # predictions and identity inputs only: the 3 targets came from the cache


def test_two_way_recipe_scores_each_direction_and_their_mean(toy):
    def pairs(batch):
        return {"AtoB": (batch["A"], batch["B"], batch["A"]), "BtoA": (batch["B"], batch["A"], None)}

    toy.evaluation_pairs = pairs
    scores = evaluate(toy, toy_items(2, size=16), "cpu", metrics="psnr")
    assert scores["psnr_BtoA"] == pytest.approx(scores["psnr_AtoB"])  # symmetric by construction
    assert scores["psnr"] == pytest.approx((scores["psnr_AtoB"] + scores["psnr_BtoA"]) / 2)
    assert "baseline_psnr_AtoB" in scores and "baseline_psnr_BtoA" not in scores


def test_one_image_gives_null_fid_with_the_reason(toy, weights):
    scores = evaluate(toy, toy_items(1, size=16), "cpu", metrics=["fid", "psnr"], **weights)
    data = json.loads(scores.to_json())
    assert data["fid"] is None and "at least 2" in data["notes"]["fid"] and data["psnr"] is not None


def test_bad_inputs_are_one_line_errors(toy, monkeypatch):
    monkeypatch.delenv("I2I_WEIGHTS_DIR", raising=False)
    with pytest.raises(M.MetricError, match="--inception-weights"):
        evaluate(toy, toy_items(2, size=16), "cpu", metrics=["kid"])
    with pytest.raises(M.MetricError, match="unknown metric 'lpip' \\(did you mean lpips\\?\\)"):
        evaluate(toy, toy_items(2, size=16), "cpu", metrics="lpip")
    no_target = [{"A": i["A"]} for i in toy_items(2, size=16)]
    with pytest.raises(M.MetricError, match="held-out items lack 'B'"):
        evaluate(toy, no_target, "cpu")
    with pytest.raises(M.MetricError, match="empty"):
        evaluate(toy, [], "cpu")


TINY = ["--set", "model.netG=unet", "--set", "model.num_downs=5", "--set", "model.ngf=4", "--set", "model.ndf=4",
        "--set", "data.load_size=32", "--set", "data.crop_size=32", "--set", "data.batch_size=2",
        "--set", 'data.synthetic={"layout": "aligned", "n": 4, "size": 32, "seed": 1, "n_test": 3}',
        "--set", "trainer.max_steps=2", "--set", "trainer.log_every=1"]


def test_eval_command_updates_metrics_and_page(tmp_path, weights):
    from i2i_core.cli import _add_plugin_commands, cli

    engine = Engine(warn=False)
    _add_plugin_commands(engine)

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), obj={"engine": engine})

    run = tmp_path / "run"
    res = invoke("run", "pix2pix", "--preset", "demo", "--out", str(run), "--no-progress", *TINY)
    assert res.exit_code == 0, res.output
    res = invoke("eval", str(run), "--metrics", "lpips,psnr", "--lpips-weights", str(weights["lpips_weights"]))
    assert res.exit_code == 0, res.output
    assert "lpips" in res.output and "wrote" in res.output
    data = json.loads((run / "metrics.json").read_text())
    assert {"lpips", "baseline_lpips", "psnr", "ssim"} <= set(data)  # merged over the end-of-training scores
    assert "LPIPS" in (run / "index.html").read_text()
    res = invoke("eval", str(run), "--metrics", "psnr", "--json", "--out", str(tmp_path / "elsewhere"))
    assert res.exit_code == 0 and json.loads(res.output)["images"] == 3
    assert (tmp_path / "elsewhere" / "metrics.json").is_file()
    res = invoke("eval", str(run), "--metrics", "fid", "--inception-weights", str(tmp_path / "missing.pth"))
    assert res.exit_code == 1 and "missing.pth: no such file" in res.output and "Traceback" not in res.output
    res = invoke("eval", str(run), "--data", str(tmp_path / "nowhere"))
    assert res.exit_code == 1 and "--data" in res.output and "nowhere" in res.output
