"""The pix2pixhd recipe: one step, losses, niter_fix_global, config checks, presets, inference."""

from __future__ import annotations

import pytest
import torch

from i2i_core import ConfigError, DataError, StepContext, losses_as_floats


def _ctx() -> StepContext:
    return StepContext(torch.amp.GradScaler("cpu", enabled=False))


def _snapshot(net: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def test_step_updates_every_network_and_reports_losses(make_recipe, label_batch):
    rec = make_recipe({"instance_feat": True})
    before = {name: _snapshot(net) for name, net in rec.nets.items()}
    raw = rec.training_step(label_batch(), _ctx())
    # left on the device, detached: the trainer reads them at log points only (no per-step host sync)
    assert all(isinstance(v, torch.Tensor) and v.grad_fn is None for v in raw.values())
    logs = losses_as_floats(raw)
    assert list(logs) == ["G_GAN", "G_GAN_Feat", "D_real", "D_fake", "D", "G"]
    assert logs["D"] == pytest.approx(0.5 * (logs["D_real"] + logs["D_fake"]), rel=1e-6)
    assert logs["G"] == pytest.approx(logs["G_GAN"] + logs["G_GAN_Feat"], rel=1e-6)
    for name, net in rec.nets.items():
        assert any(not torch.equal(v, before[name][k]) for k, v in net.state_dict().items()), name
    assert rec.translate(label_batch()).shape == (2, 3, 32, 32)


def test_no_feature_matching_and_bce(make_recipe, label_batch):
    rec = make_recipe({"no_ganFeat_loss": True, "no_lsgan": True})
    logs = losses_as_floats(rec.training_step(label_batch(), _ctx()))
    assert "G_GAN_Feat" not in logs and logs["G"] == pytest.approx(logs["G_GAN"])
    # with feature matching on, the D's logits go through a stable sigmoid-BCE instead of crashing
    logs = losses_as_floats(make_recipe({"no_lsgan": True}).training_step(label_batch(), _ctx()))
    assert all(v == v for v in logs.values())


def test_vgg_term_is_weighted_by_lambda_feat(label_batch, tiny):
    from torchvision.models.vgg import cfgs, make_layers

    from i2i_core import Engine
    from i2i_pix2pixhd.losses import VGGLoss

    small_vgg = make_layers([v if v == "M" else max(2, v // 128) for v in cfgs["E"]])
    # the recipe builds its losses by name, so a registry entry replaces the VGG19 weights file
    eng = Engine(warn=False)
    eng.registries.losses.add("vgg19", lambda weights_path=None: VGGLoss(features=small_vgg), replace=True)
    run = eng.resolve_config("pix2pixhd", overrides={"model": {**tiny, "no_vgg_loss": False},
                                                     "data": {"load_size": 32, "crop_size": 32},
                                                     "trainer": {"device": "cpu"}})
    rec = eng.build_recipe(run, device="cpu")
    batch = label_batch()
    logs = losses_as_floats(rec.training_step(batch, _ctx()))
    assert "G_VGG" in logs
    assert logs["G"] == pytest.approx(logs["G_GAN"] + logs["G_GAN_Feat"] + logs["G_VGG"], rel=1e-5)


def test_niter_fix_global_trains_only_the_finest_enhancer_first(make_recipe, label_batch):
    rec = make_recipe({"netG": "local", "n_local_enhancers": 2, "niter_fix_global": 2}, data={"crop_size": 32})
    g = rec.nets["G"]
    names = rec.trainable_generator_names()
    assert names and all(n.startswith("model2") for n in names)
    held = {id(p) for group in rec.optimizers["G"].param_groups for p in group["params"]}
    assert held == {id(p) for n, p in g.named_parameters() if n.startswith("model2")}
    frozen = _snapshot(g)
    rec.training_step(label_batch(), _ctx())
    after = g.state_dict()
    assert all(torch.equal(after[k], frozen[k]) for k in after if not k.startswith("model2"))
    assert any(not torch.equal(after[k], frozen[k]) for k in after if k.startswith("model2"))
    old = rec.optimizers["G"]
    for group in old.param_groups:
        group["lr"], group["initial_lr"] = 1e-4, 2e-4
    rec.on_epoch_start(2)
    assert rec.optimizers["G"] is old
    rec.on_epoch_start(3)
    new = rec.optimizers["G"]
    assert new is not old and not new.state
    assert {id(p) for p in new.param_groups[0]["params"]} == {id(p) for p in g.parameters()}
    assert new.param_groups[0]["lr"] == 1e-4 and new.param_groups[0]["initial_lr"] == 2e-4
    assert all(p.requires_grad for p in g.parameters())
    assert rec.state_dict()["global_fixed"] is False


def test_resumed_run_past_the_fixed_epochs_gets_the_full_optimizer(make_recipe):
    rec = make_recipe({"netG": "local", "niter_fix_global": 1})
    restricted = rec.optimizers["G"]
    rec.load_state_dict({"pool": {"images": []}, "global_fixed": False})
    assert rec.optimizers["G"] is not restricted
    assert len(rec.optimizers["G"].param_groups[0]["params"]) == len(list(rec.nets["G"].parameters()))


def test_image_pool_state_round_trip(make_recipe, label_batch):
    rec = make_recipe({"pool_size": 3})
    rec.training_step(label_batch(), _ctx())
    state = rec.state_dict()
    assert len(state["pool"]["images"]) == 2
    other = make_recipe({"pool_size": 3})
    other.load_state_dict(state)
    assert torch.equal(other.pool.images[0], rec.pool.images[0])


@pytest.mark.parametrize(("overrides", "field", "multiple"), [
    ({"model": {"netG": "local", "n_local_enhancers": 1}, "data": {"preprocess": "crop", "crop_size": 36}},
     "data.crop_size", 8),
    ({"model": {}, "data": {"preprocess": "scale_width", "load_size": 30}}, "data.load_size", 4),
])
def test_sizes_must_fit_the_generator(i2i_shared_engine, tiny, overrides, field, multiple):
    model = {**tiny, **overrides["model"]}
    data = {"load_size": 64, **overrides["data"]}
    with pytest.raises(ConfigError) as err:
        i2i_shared_engine.resolve_config("pix2pixhd", overrides={"model": model, "data": data})
    assert field in str(err.value) and f"multiple of {multiple}" in str(err.value)


def test_config_combinations(i2i_shared_engine):
    with pytest.raises(ConfigError, match="niter_fix_global"):
        i2i_shared_engine.resolve_config("pix2pixhd", overrides={"model": {"niter_fix_global": 3}})
    with pytest.raises(ConfigError, match="no_instance"):
        i2i_shared_engine.resolve_config("pix2pixhd", overrides={"model": {"instance_feat": True, "no_instance": True}})
    with pytest.raises(ConfigError, match="unknown field"):
        i2i_shared_engine.resolve_config("pix2pixhd", overrides={"model": {"ngf_typo": 3}})


@pytest.mark.parametrize(("preset", "before"), [("1024p", "512p"), ("1024p_12G", "512p"),
                                                 ("1024p_feat", "512p_feat"), ("2048p", "1024p")])
def test_staged_presets_need_init_from(i2i_shared_engine, preset, before):
    with pytest.raises(ConfigError) as err:
        i2i_shared_engine.resolve_config("pix2pixhd", preset)
    msg = str(err.value)
    assert f"--preset {before}" in msg and "--init-from RUN" in msg and "trainer.init_from" in msg
    run = i2i_shared_engine.resolve_config("pix2pixhd", preset, overrides=["trainer.init_from=runs/x"])
    assert run.model["netG"] == "local"


def test_presets_mirror_the_nvidia_scripts(i2i_shared_engine):
    p512 = i2i_shared_engine.resolve_config("pix2pixhd", "512p")
    assert (p512.model["netG"], p512.model["num_D"], p512.model["label_nc"]) == ("global", 2, 35)
    assert (p512.data.preprocess, p512.data.load_size, p512.data.crop_size) == ("scale_width", 1024, 512)
    assert (p512.data.dataset, p512.trainer.lr_policy) == ("labels", "linear_to_zero")
    p1024 = i2i_shared_engine.resolve_config("pix2pixhd", "1024p", overrides={"trainer": {"init_from": "r"}})
    assert (p1024.model["ngf"], p1024.model["num_D"], p1024.model["niter_fix_global"]) == (32, 3, 10)
    assert (p1024.trainer.n_epochs, p1024.trainer.n_epochs_decay, p1024.data.preprocess) == (50, 50, "none")
    p12 = i2i_shared_engine.resolve_config("pix2pixhd", "1024p_12G", overrides={"trainer": {"init_from": "r"}})
    assert (p12.data.preprocess, p12.data.crop_size, p12.model["niter_fix_global"]) == ("crop", 1024, 20)
    assert i2i_shared_engine.resolve_config("pix2pixhd", "512p_feat").model["instance_feat"] is True
    p2048 = i2i_shared_engine.resolve_config("pix2pixhd", "2048p", overrides={"trainer": {"init_from": "r"}})
    assert p2048.model["n_local_enhancers"] == 2
    demo = i2i_shared_engine.resolve_config("pix2pixhd", "demo")
    assert demo.data.root is None and demo.data.synthetic["layout"] == "labels" and demo.model["no_vgg_loss"]


def test_image_size_checked_at_run_time(make_recipe, label_batch):
    rec = make_recipe({"netG": "local"})
    batch = label_batch(size=32)
    batch = {k: (v[..., :28, :] if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    with pytest.raises(DataError, match="multiple of 8"):
        rec.training_step(batch, _ctx())


def test_translate_sample_and_evaluation(make_recipe, label_batch):
    rec = make_recipe(training=False)
    assert set(rec.nets) == {"G"} and not rec.optimizers
    batch = label_batch()
    out = rec.translate(batch)
    assert out.shape == (2, 3, 32, 32)
    shown = rec.sample(batch)
    assert list(shown) == ["label", "output", "target"] and shown["label"].shape == (2, 3, 32, 32)
    pred, target, ident = rec.evaluation_pair(batch)
    assert ident is None and torch.equal(target, batch["image"])


def test_translate_with_feature_clusters(make_recipe, label_batch, tmp_path):
    from i2i_pix2pixhd.features import save_clusters

    rec = make_recipe({"instance_feat": True}, training=False)
    batch = label_batch()
    encoded = rec.translate(batch)  # no clusters yet: E encodes the image (as during training)
    label_only = {k: v for k, v in batch.items() if k != "image"}
    with pytest.raises(ConfigError, match="encode-features"):
        rec.translate(label_only)
    centres = {c: torch.randn(5, 3) for c in range(4)}
    path = save_clusters(centres, tmp_path / "features_clustered.pt", feat_num=3, n_clusters=5)
    rec.run_dir = tmp_path
    torch.manual_seed(0)
    a = rec.translate(label_only)
    b = rec.translate(label_only)
    assert not torch.equal(a, b)  # sampled clusters: several outputs for one label map
    fixed = make_recipe({"instance_feat": True, "feat_cluster": 1, "cluster_path": str(path)}, training=False)
    fixed.nets["G"].load_state_dict(rec.nets["G"].state_dict())
    assert torch.equal(fixed.translate(label_only), fixed.translate(label_only))
    feat = fixed.sample_features(batch["inst"])
    mask = batch["inst"][0, 0] == 3001
    assert mask.any()
    assert torch.allclose(feat[0][:, mask], centres[3][1][:, None].expand(3, int(mask.sum())))
    assert not torch.equal(encoded, a)


def test_step_under_bf16_autocast(make_recipe, label_batch):
    rec = make_recipe({"instance_feat": True, "netG": "local"})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logs = losses_as_floats(rec.training_step(label_batch(), _ctx()))
        out = rec.translate(label_batch())
    assert all(v == v and abs(v) < 1e4 for v in logs.values())
    assert out.shape == (2, 3, 32, 32)
