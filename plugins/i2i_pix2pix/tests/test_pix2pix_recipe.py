"""The pix2pix recipe: one step on random tensors, modes, direction, inference semantics, config checks."""

from __future__ import annotations

import pytest
import torch

from i2i_core import ConfigError, StepContext, losses_as_floats


def _recipe(engine, training=True, **model):
    data = model.pop("_data", {})
    overrides = {"model": {"netG": "unet", "num_downs": 5, "ngf": 4, "ndf": 4, **model},
                 "data": {"load_size": 32, "crop_size": 32, **data}}
    run = engine.resolve_config("pix2pix", overrides=overrides)
    torch.manual_seed(0)
    return engine.build_recipe(run, device="cpu", training=training)


def _batch(n=2, c_in=3, c_out=3):
    g = torch.Generator().manual_seed(1)
    return {"A": torch.rand(n, c_in, 32, 32, generator=g) * 2 - 1, "B": torch.rand(n, c_out, 32, 32, generator=g) * 2 - 1}


def _ctx():
    return StepContext(torch.amp.GradScaler("cpu", enabled=False))


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def test_one_step_updates_both_nets(i2i_shared_engine):
    rec = _recipe(i2i_shared_engine)
    assert set(rec.nets) == {"G", "D"} and set(rec.optimizers) == {"G", "D"}
    assert rec.nets["D"].model[0].in_channels == 6  # D sees cat(A, B)
    g0, d0 = _params(rec.nets["G"]), _params(rec.nets["D"])
    raw = rec.training_step(_batch(), _ctx())
    # left on the device, detached: the trainer reads them at log points only (no per-step host sync)
    assert all(isinstance(v, torch.Tensor) and v.grad_fn is None for v in raw.values())
    logs = losses_as_floats(raw)
    assert set(logs) == {"G_GAN", "G_L1", "D_real", "D_fake", "D", "G"}
    assert all(isinstance(v, float) for v in logs.values())
    assert logs["D"] == pytest.approx(0.5 * (logs["D_real"] + logs["D_fake"]), rel=1e-5)
    assert logs["G"] == pytest.approx(logs["G_GAN"] + logs["G_L1"], rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(g0, rec.nets["G"].parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d0, rec.nets["D"].parameters(), strict=True))
    assert all(p.requires_grad for p in rec.nets["D"].parameters())  # unfrozen again after the G step


@pytest.mark.parametrize("mode,lambda_gp", [("lsgan", 0.0), ("wgangp", 0.0), ("wgangp", 10.0), ("hinge", 0.0)])
def test_other_gan_modes(i2i_shared_engine, mode, lambda_gp):
    rec = _recipe(i2i_shared_engine, gan_mode=mode, norm="instance", netD="pixel", lambda_gp=lambda_gp)
    logs = losses_as_floats(rec.training_step(_batch(), _ctx()))
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    assert ("D_gp" in logs) == (lambda_gp > 0)  # junyanz never adds the penalty: off unless asked for


def test_wgangp_has_no_penalty_by_default(i2i_shared_engine):
    assert _recipe(i2i_shared_engine, gan_mode="wgangp").config.lambda_gp == 0.0


def test_channels_and_grayscale_readers(i2i_shared_engine):
    rec = _recipe(i2i_shared_engine, input_nc=1, output_nc=3)
    batch = _batch(c_in=1, c_out=3)  # the reader already applied data.direction: A is the input
    logs = losses_as_floats(rec.training_step(batch, _ctx()))
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    pred, target, ident = rec.evaluation_pair(batch)
    assert pred.shape == (2, 3, 32, 32) and target is batch["B"] and ident is None
    assert set(rec.sample(batch)) == {"real_A", "fake_B", "real_B"}

    class Reader:
        grayscale = False

    assert rec.configure_dataset(Reader()).grayscale == {"A"}


def test_translate_semantics(i2i_shared_engine):
    rec = _recipe(i2i_shared_engine, no_dropout=False)
    G = rec.nets["G"]
    with torch.no_grad():  # give the BN running stats something to differ by
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
    buffers = [b.clone() for b in G.buffers()]
    x = _batch()["A"]
    G.eval()
    out = rec.translate({"A": x})  # eval_mode False: train-mode G (batch stats, dropout) like test.py
    assert not G.training  # the caller's mode is restored
    assert all(torch.equal(a, b) for a, b in zip(buffers, G.buffers(), strict=True))  # running stats untouched
    G.eval()
    assert not torch.allclose(out, G(x).detach())
    rec.config.eval_mode = True
    G.train()
    with torch.no_grad():
        assert torch.equal(rec.translate({"A": x}), G.eval()(x))


def test_inference_build_has_no_discriminator(i2i_shared_engine):
    rec = _recipe(i2i_shared_engine, training=False)
    assert set(rec.nets) == {"G"} and rec.optimizers == {}


def test_channel_mismatch_is_a_config_error(i2i_shared_engine):
    rec = _recipe(i2i_shared_engine, input_nc=1)
    with pytest.raises(ConfigError, match=r"model.input_nc is 1 but the batch's 'A' images have 3 channels"):
        rec.training_step(_batch(), _ctx())


def test_validate_run(i2i_shared_engine):
    with pytest.raises(ConfigError, match=r"data.crop_size 200 .*netG='unet_256'.*multiple of 256"):
        i2i_shared_engine.resolve_config("pix2pix", overrides=["data.crop_size=200"])
    with pytest.raises(ConfigError, match=r"data.crop_size 96 .*unet_128"):
        i2i_shared_engine.resolve_config("pix2pix", overrides=["model.netG=unet_128", "data.crop_size=96"])
    with pytest.raises(ConfigError, match=r"data.crop_size 30 .*resnet_9blocks.*multiple of 4"):
        i2i_shared_engine.resolve_config("pix2pix", overrides=["model.netG=resnet_9blocks", "data.crop_size=30"])
    with pytest.raises(ConfigError, match="num_downs only applies"):
        i2i_shared_engine.resolve_config("pix2pix", overrides=["model.num_downs=6"])
    with pytest.raises(ConfigError, match="model.input_nc"):
        i2i_shared_engine.resolve_config("pix2pix", overrides=["model.input_nc=0"])
    with pytest.raises(ConfigError, match="model.gan_mode"):
        i2i_shared_engine.resolve_config("pix2pix", overrides=["model.gan_mode=wgan"])
    # sizes are not fixed without cropping: accepted here, checked by the generator at run time
    i2i_shared_engine.resolve_config("pix2pix", overrides=["data.preprocess=none", "data.crop_size=200"])


def test_presets_resolve(i2i_shared_engine):
    names = {e.meta["preset"] for e in i2i_shared_engine.registries.presets.for_recipe("pix2pix")}
    assert names == {"facades", "maps", "edges2shoes", "cityscapes", "night2day", "demo"}  # no NAME_ema twins
    for name in names:
        run = i2i_shared_engine.resolve_config("pix2pix", name)
        assert run.data.dataset == "aligned"
    facades = i2i_shared_engine.resolve_config("pix2pix", "facades")
    assert (facades.data.direction, facades.model["netG"], facades.trainer.n_epochs) == ("BtoA", "unet_256", 100)
    demo = i2i_shared_engine.resolve_config("pix2pix", "demo")
    assert demo.data.root is None and demo.data.synthetic["layout"] == "aligned" and demo.trainer.max_steps


@pytest.mark.parametrize("mode", ["vanilla", "wgangp"])
def test_bf16_autocast_step(i2i_shared_engine, mode):
    rec = _recipe(i2i_shared_engine, gan_mode=mode)
    ac = torch.autocast("cpu", dtype=torch.bfloat16)
    ctx = StepContext(torch.amp.GradScaler("cpu", enabled=False), autocast=ac)
    with ac:
        logs = losses_as_floats(rec.training_step(_batch(), ctx))
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    assert all(p.dtype == torch.float32 for p in rec.nets["G"].parameters())


def test_shared_gan_options_keep_pix2pix_defaults_and_checks():
    from pydantic import ValidationError

    from i2i_pix2pix.recipe import Pix2PixConfig

    c = Pix2PixConfig()
    shared = (c.input_nc, c.output_nc, c.ngf, c.ndf, c.norm, c.init_type, c.init_gain, c.no_dropout, c.gan_mode)
    assert shared == (3, 3, 64, 64, "batch", "normal", 0.02, False, "vanilla")
    for bad in ({"norm": "group"}, {"gan_mode": "wgan"}, {"input_nc": 0}, {"init_type": "uniform"}):
        with pytest.raises(ValidationError):
            Pix2PixConfig(**bad)
