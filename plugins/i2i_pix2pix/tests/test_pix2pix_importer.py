"""The junyanz importer on state dicts saved from our own modules (official layouts)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from i2i_core import CheckpointError, Engine
from i2i_pix2pix import networks as nets
from i2i_pix2pix.importers import import_junyanz


def _save(state: dict, path: Path, prefix: str = "") -> Path:
    od = OrderedDict((prefix + k, v) for k, v in state.items())
    od._metadata = OrderedDict({"": {"version": 1}})  # what nn.Module.state_dict() attaches
    torch.save(od, path)
    return path


def _same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_unet_with_module_prefix(tmp_path):
    g = nets.unet_256(3, 2, ngf=2, norm="batch", use_dropout=True)
    path = _save(g.state_dict(), tmp_path / "latest_net_G.pth", prefix="module.")
    w = import_junyanz(path, "unet_256")
    assert w.recipe == "pix2pix"
    assert w.model == {"netG": "unet_256", "input_nc": 3, "output_nc": 2, "ngf": 2, "norm": "batch"}
    assert list(w.nets) == ["G"] and _same(w.nets["G"], g.state_dict())


@pytest.mark.parametrize("dropout", [False, True])
def test_resnet_instance_with_stale_running_stats(tmp_path, dropout):
    g = nets.resnet_9blocks(3, 3, ngf=2, norm="instance", use_dropout=dropout)
    state = dict(g.state_dict())
    prefixes = [n for n, m in g.named_modules() if isinstance(m, nn.InstanceNorm2d)]
    for p in prefixes:  # what PyTorch < 0.4 / 0.4.x wrote for stateless InstanceNorm layers
        c = g.get_submodule(p).num_features
        state[f"{p}.running_mean"], state[f"{p}.running_var"] = torch.zeros(c), torch.ones(c)
        state[f"{p}.num_batches_tracked"] = torch.tensor(0)
    w = import_junyanz([_save(state, tmp_path / "horse2zebra.pth")], "resnet_9blocks")
    assert w.model == {"netG": "resnet_9blocks", "input_nc": 3, "output_nc": 3, "ngf": 2, "norm": "instance",
                       "no_dropout": not dropout}
    assert _same(w.nets["G"], g.state_dict())


def test_generic_depths_and_norm_none(tmp_path):
    u = nets.unet(1, 3, num_downs=6, ngf=2, norm="none")
    w = import_junyanz(_save(u.state_dict(), tmp_path / "u.pth"), "unet")
    assert (w.model["num_downs"], w.model["norm"], w.model["input_nc"]) == (6, "none", 1)
    r = nets.resnet(3, 1, ngf=2, n_blocks=3, norm="batch")
    w = import_junyanz(_save(r.state_dict(), tmp_path / "r.pth"), "resnet")
    assert (w.model["n_blocks"], w.model["norm"], w.model["output_nc"]) == (3, "batch", 1)


def test_mismatch_lists_keys_and_names_file_and_arch(tmp_path):
    path = _save(nets.unet_128(ngf=2).state_dict(), tmp_path / "latest_net_G.pth")
    with pytest.raises(CheckpointError, match=r"latest_net_G\.pth does not match a junyanz unet_256.*missing \(\d+\)"):
        import_junyanz(path, "unet_256")
    with pytest.raises(CheckpointError, match="not a junyanz resnet_9blocks generator"):
        import_junyanz(path, "resnet_9blocks")


def test_bad_arguments(tmp_path):
    with pytest.raises(CheckpointError, match="'basic'"):
        import_junyanz(tmp_path / "x.pth", "basic")
    with pytest.raises(CheckpointError, match="not found"):
        import_junyanz(tmp_path / "missing.pth", "unet_256")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        import_junyanz(junk, "unet_256")
    with pytest.raises(CheckpointError, match="one generator file"):
        import_junyanz([junk, junk], "unet_256")


def test_import_official_end_to_end(tmp_path):
    """What `i2i import-checkpoint --from junyanz --arch unet_128 FILE OUT` does, then inference loading."""
    from i2i_core import import_official, load_for_inference, load_weights

    g = nets.unet_128(3, 3, ngf=2, use_dropout=True)
    path = _save(g.state_dict(), tmp_path / "latest_net_G.pth")
    engine = Engine(warn=False)
    weights = import_official(engine, "junyanz", "unet_128", [path], tmp_path / "run", ["model.eval_mode=true"])
    nets_, config, _ = load_weights(weights)
    assert config["recipe"] == "pix2pix" and config["model"]["netG"] == "unet_128" and config["model"]["ngf"] == 2
    recipe, _ = load_for_inference(engine, weights, [], device="cpu")
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(recipe.translate({"A": x}), g.eval()(x))
