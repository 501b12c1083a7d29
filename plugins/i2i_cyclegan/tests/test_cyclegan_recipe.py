"""The cyclegan recipe: one step of each variant, config checks, direction, state, presets."""

from __future__ import annotations

import io

import pytest
import torch

from i2i_core import ConfigError, ImageBuffer, ImagePool, StepContext, losses_as_floats
from i2i_cyclegan.presets import PRESETS

JUNYANZ_LOSSES = ["G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "G", "D_A", "D_B"]
BOOK_LOSSES = ["adv_AB", "adv_BA", "cyc_A", "cyc_B", "iden_A", "iden_B", "g_loss", "D_A_real", "D_A_fake",
               "d_loss_A", "D_B_real", "D_B_fake", "d_loss_B"]


def _step(recipe, batch: dict) -> dict:
    raw = recipe.training_step(batch, StepContext(torch.amp.GradScaler("cpu", enabled=False), step=1))
    # left on the device, detached: the trainer reads them at log points only (no per-step host sync)
    assert all(isinstance(v, torch.Tensor) and v.grad_fn is None for v in raw.values())
    return losses_as_floats(raw)


def _params(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _changed(before: list[torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_junyanz_step_updates_all_four_networks(make_recipe, batch):
    rec = make_recipe()
    assert sorted(rec.optimizers) == ["D", "G"]
    assert isinstance(rec.fake_A_pool, ImagePool)
    before = {k: _params(n) for k, n in rec.nets.items()}
    logs = _step(rec, batch())
    assert list(logs) == JUNYANZ_LOSSES and all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    assert logs["G"] == pytest.approx(sum(logs[k] for k in JUNYANZ_LOSSES[:6]), rel=1e-5)
    assert all(_changed(before[k], n) for k, n in rec.nets.items())
    assert len(rec.fake_A_pool) == 1 and len(rec.fake_B_pool) == 1


def test_book_step_uses_three_optimizers_and_the_book_loss_names(make_recipe, batch):
    rec = make_recipe(model={"variant": "book"})
    assert sorted(rec.optimizers) == ["D_A", "D_B", "G"] and isinstance(rec.fake_B_pool, ImageBuffer)
    assert rec.nets["G_A"].model[1].weight.shape == (4, 3, 7, 7)  # width 64 / 16
    before = {k: _params(n) for k, n in rec.nets.items()}
    logs = _step(rec, batch())
    assert list(logs) == BOOK_LOSSES
    expected = ((logs["adv_AB"] + logs["adv_BA"]) / 2 + 10 * (logs["cyc_A"] + logs["cyc_B"]) / 2
                + 5 * (logs["iden_A"] + logs["iden_B"]) / 2)
    assert logs["g_loss"] == pytest.approx(expected, rel=1e-5)
    assert logs["d_loss_A"] == pytest.approx((logs["D_A_real"] + logs["D_A_fake"]) / 2, rel=1e-5)
    assert all(_changed(before[k], n) for k, n in rec.nets.items())


def test_identity_loss_needs_equal_channels(i2i_shared_engine):
    with pytest.raises(ConfigError, match=r"model\.lambda_identity.*model\.input_nc.*model\.output_nc"):
        i2i_shared_engine.resolve_config("cyclegan", overrides={"model": {"input_nc": 1, "output_nc": 3}})
    run = i2i_shared_engine.resolve_config("cyclegan", overrides={"model": {"input_nc": 1, "output_nc": 3, "lambda_identity": 0}})
    assert run.model["input_nc"] == 1


def test_one_to_three_channels_without_identity(make_recipe, batch):
    rec = make_recipe(model={"input_nc": 1, "lambda_identity": 0.0})
    logs = _step(rec, batch(channels=(1, 3)))
    assert logs["idt_A"] == 0.0 and logs["idt_B"] == 0.0
    with pytest.raises(ConfigError, match="model.input_nc is 1"):
        _step(rec, batch())


@pytest.mark.parametrize("overrides, match", [
    ({"model": {"variant": "book"}, "data": {"crop_size": 128}}, "256"),
    ({"model": {"variant": "book", "netG": "unet_256"}}, "model.netG"),
    ({"model": {"variant": "book", "input_nc": 1, "lambda_identity": 0}}, "model.input_nc"),
    ({"model": {"width_div": 4}}, "model.width_div"),
    ({"model": {"netG": "unet_256"}, "data": {"crop_size": 200, "load_size": 286}}, "multiple of 256"),
])
def test_config_errors(i2i_shared_engine, overrides, match):
    with pytest.raises(ConfigError, match=match):
        i2i_shared_engine.resolve_config("cyclegan", overrides=overrides)


def test_direction_picks_the_generator_and_inference_build(make_recipe, batch):
    fwd = make_recipe(training=False)
    assert fwd.optimizers == {} and fwd.fake_A_pool is None and fwd.inference_nets() == ["G_A"]
    x = batch()
    with torch.no_grad():
        assert torch.equal(fwd.translate(x), fwd.nets["G_A"](x["A"]))
    back = make_recipe(data={"direction": "BtoA"}, training=False)
    assert back.inference_nets() == ["G_B"]
    with torch.no_grad():
        assert torch.equal(back.translate(x), back.nets["G_B"](x["A"]))
    pred, target, ident = back.evaluation_pair(x)
    assert target is x["B"] and ident is x["A"]
    shown = back.sample(x)  # by domain: the reader's A is domain B for BtoA
    assert list(shown) == ["real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"]
    assert shown["real_A"] is x["B"] and shown["real_B"] is x["A"]


def test_state_dict_round_trip_restores_the_pools(make_recipe, batch):
    rec = make_recipe(model={"pool_size": 2})
    for k in range(3):
        _step(rec, batch(seed=k))
    buf = io.BytesIO()
    torch.save(rec.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    twin = make_recipe(model={"pool_size": 2})
    twin.load_state_dict(state)
    for key in ("fake_A_pool", "fake_B_pool"):
        a, b = getattr(rec, key), getattr(twin, key)
        assert all(torch.equal(x, y) for x, y in zip(a.images, b.images, strict=True))
        probe = torch.zeros(1, 3, 32, 32)
        assert torch.equal(a.query(probe), b.query(probe))


def test_presets_are_listed_and_resolve(i2i_shared_engine):
    names = {e.meta["preset"] for e in i2i_shared_engine.registries.presets.for_recipe("cyclegan")}
    assert names == {"horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo", "vangogh2photo", "maps",
                     "cityscapes", "book", "demo"}  # EMA is --ema on any of them, not a NAME_ema twin
    for name in PRESETS:
        run = i2i_shared_engine.resolve_config("cyclegan", name)
        assert run.data.dataset == "unaligned"
    book = i2i_shared_engine.resolve_config("cyclegan", "book")
    assert book.model["variant"] == "book" and book.data.load_size == int(256 * 1.12)
    demo = i2i_shared_engine.resolve_config("cyclegan", "demo")
    assert demo.data.root is None and demo.data.synthetic["layout"] == "unaligned" and demo.trainer.max_steps


def test_evaluation_scores_each_direction_against_the_other_domain(make_recipe, batch):
    from i2i_core import evaluate

    recipe = make_recipe()
    b = batch(b=1, size=32, seed=3)
    pairs = recipe.evaluation_pairs(b)
    with torch.no_grad():
        assert torch.equal(pairs["AtoB"][0], recipe.nets["G_A"](b["A"])) and pairs["AtoB"][1] is b["B"]
        assert torch.equal(pairs["BtoA"][0], recipe.nets["G_B"](b["B"])) and pairs["BtoA"][1] is b["A"]
    items = [{k: v[0] for k, v in batch(b=1, size=32, seed=s).items()} for s in range(2)]
    scores = evaluate(recipe, items, "cpu", metrics=["psnr"])
    assert scores["psnr"] == pytest.approx((scores["psnr_AtoB"] + scores["psnr_BtoA"]) / 2)
    assert {"baseline_psnr_AtoB", "baseline_psnr_BtoA"} <= set(scores)


def test_shared_gan_options_keep_cyclegan_defaults():
    from i2i_cyclegan.recipe import CycleGANConfig

    c = CycleGANConfig()
    shared = (c.input_nc, c.output_nc, c.ngf, c.ndf, c.norm, c.init_type, c.init_gain, c.no_dropout, c.gan_mode)
    assert shared == (3, 3, 64, 64, "instance", "normal", 0.02, True, "lsgan")
    assert "junyanz only: ngf, ndf" in CycleGANConfig.model_fields["variant"].description
