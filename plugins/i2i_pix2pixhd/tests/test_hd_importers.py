"""Importer ``pix2pixhd``: config inferred from shapes, keys checked against our modules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from i2i_core import CheckpointError
from i2i_pix2pixhd.importers import import_pix2pixhd, import_state_dicts

MANIFESTS = Path(__file__).resolve().parents[3] / "tests" / "reference" / "manifests"


def load_manifest(name: str) -> dict:
    return json.loads((MANIFESTS / f"{name}.json").read_text())


def _meta_state(name: str) -> dict[str, torch.Tensor]:
    """A full-size checkpoint's tensors, shapes only (meta device)."""
    return {e["key"]: torch.empty(e["shape"], device="meta") for e in load_manifest(name)["state_dict"]}


def test_official_1024p_generator_config_from_shapes():
    path = Path("checkpoints/label2city_1024p/latest_net_G.pth")
    got = import_state_dicts({"G": (path, _meta_state("pix2pixhd_G_local_1024p"))})
    assert got.recipe == "pix2pixhd"
    cfg = load_manifest("pix2pixhd_G_local_1024p")["config"]
    for key in ("netG", "ngf", "n_downsample_global", "n_blocks_global", "n_local_enhancers", "n_blocks_local",
                "norm", "output_nc"):
        assert got.model[key] == cfg[key], key
    assert got.model["label_nc"] == 35 and got.model["no_instance"] is False
    assert list(got.nets["G"]) == [e["key"] for e in load_manifest("pix2pixhd_G_local_1024p")["state_dict"]]


def test_feat_run_with_discriminator_and_encoder():
    states = {"G": (Path("latest_net_G.pth"), _meta_state("pix2pixhd_G_global_512p_feat")),
              "D": (Path("latest_net_D.pth"), _meta_state("pix2pixhd_D_multiscale_512p")),
              "E": (Path("latest_net_E.pth"), _meta_state("pix2pixhd_E_encoder"))}
    got = import_state_dicts(states)
    m = got.model
    assert (m["netG"], m["ngf"], m["label_nc"], m["instance_feat"], m["feat_num"], m["nef"]) == (
        "global", 64, 35, True, 3, 16)
    assert (m["num_D"], m["n_layers_D"], m["ndf"], m["no_ganFeat_loss"], m["n_downsample_E"]) == (2, 3, 64, False, 4)
    assert set(got.nets) == {"G", "D", "E"}


def test_1024p_discriminator_and_wrong_label_nc():
    got = import_state_dicts({"D": (Path("d.pth"), _meta_state("pix2pixhd_D_multiscale_1024p"))})
    assert got.model["num_D"] == 3 and got.model["label_nc"] == 35
    with pytest.raises(CheckpointError, match="label_nc=34"):
        import_state_dicts({"G": (Path("g.pth"), _meta_state("pix2pixhd_G_global_512p"))}, label_nc=34)


def test_keys_that_do_not_fit_name_the_file():
    state = _meta_state("pix2pixhd_G_global_512p")
    state["model.99.weight"] = torch.empty(3, device="meta")
    with pytest.raises(CheckpointError, match=r"bad_net_G.pth: keys do not fit.*unexpected"):
        import_state_dicts({"G": (Path("bad_net_G.pth"), state)})


def test_real_files_in_a_checkpoints_folder(i2i_shared_engine, tmp_path, tiny):
    """Saved like pix2pixHD (old InstanceNorm statistics, DataParallel prefix), imported and loaded."""
    run = i2i_shared_engine.resolve_config("pix2pixhd", overrides={"model": {**tiny, "instance_feat": True},
                                                                   "data": {"load_size": 32, "crop_size": 32}})
    rec = i2i_shared_engine.build_recipe(run)
    g_state = dict(rec.nets["G"].state_dict())
    g_state["model.2.running_mean"] = torch.zeros(4)  # PyTorch < 0.4.1 InstanceNorm leftovers
    g_state["model.2.running_var"] = torch.ones(4)
    torch.save(g_state, tmp_path / "latest_net_G.pth")
    torch.save({f"module.{k}": v for k, v in rec.nets["D"].state_dict().items()}, tmp_path / "latest_net_D.pth")
    torch.save(rec.nets["E"].state_dict(), tmp_path / "latest_net_E.pth")
    got = import_pix2pixhd(tmp_path)
    for key, value in tiny.items():
        if key in got.model:
            assert got.model[key] == value, key
    other = i2i_shared_engine.build_recipe(i2i_shared_engine.resolve_config("pix2pixhd", overrides={
        "model": {**got.model, "no_vgg_loss": True}, "data": {"load_size": 32, "crop_size": 32}}))
    for name, state in got.nets.items():
        other.nets[name].load_state_dict(state, strict=True)
    single = import_pix2pixhd(tmp_path / "latest_net_E.pth", label_nc=4)
    assert set(single.nets) == {"E"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no latest_net_G.pth"):
        import_pix2pixhd(tmp_path / "empty")


def test_missing_file():
    with pytest.raises(CheckpointError, match="not found"):
        import_pix2pixhd("does/not/exist_net_G.pth")


def test_import_checkpoint_works_offline_without_vgg_weights(i2i_shared_engine, tmp_path, tiny, monkeypatch):
    """`i2i import-checkpoint --from pix2pixhd` builds the training networks (D too) but never the VGG loss."""
    from i2i_core import import_official, load_for_inference

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_home"))  # no vgg19-dcbb9e9d.pth anywhere
    model = {k: v for k, v in tiny.items() if k != "no_vgg_loss"}
    run = i2i_shared_engine.resolve_config("pix2pixhd", overrides={"model": {**model, "no_vgg_loss": True},
                                                                   "data": {"load_size": 32, "crop_size": 32}})
    rec = i2i_shared_engine.build_recipe(run)
    torch.save(rec.nets["G"].state_dict(), tmp_path / "latest_net_G.pth")
    torch.save(rec.nets["D"].state_dict(), tmp_path / "latest_net_D.pth")
    weights = import_official(i2i_shared_engine, "pix2pixhd", None, [tmp_path], tmp_path / "run", ["model.label_nc=4"])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["no_vgg_loss"] is True and config["model"]["label_nc"] == 4
    translated, _ = load_for_inference(i2i_shared_engine, weights, [], device="cpu")
    assert torch.equal(translated.nets["G"].state_dict()["model.1.weight"], rec.nets["G"].state_dict()["model.1.weight"])
