"""Checkpoint importers: junyanz CycleGAN files and the zoo's single generator, the book's files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from i2i_core import CheckpointError, import_official, load_for_inference
from i2i_cyclegan.importers import import_book, import_junyanz_cyclegan

NGF = 4


def _jz_nets(engine, netG: str = "resnet_6blocks") -> dict[str, torch.nn.Module]:
    build = engine.registries.architectures.build
    g = {"ngf": NGF, "norm": "instance", "use_dropout": False}
    return {"G_A": build(netG, input_nc=3, output_nc=3, **g), "G_B": build(netG, input_nc=3, output_nc=3, **g),
            "D_A": build("basic", input_nc=3, ndf=NGF, norm="instance"),
            "D_B": build("basic", input_nc=3, ndf=NGF, norm="instance")}


def _save_jz(folder: Path, nets: dict, epoch: str = "latest", roles=("G_A", "G_B", "D_A", "D_B")) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for role in roles:
        path = folder / f"{epoch}_net_{role}.pth"
        torch.save(nets[role].state_dict(), path)
        paths.append(path)
    return paths


def _same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_junyanz_folder_of_four_networks(i2i_shared_engine, tmp_path):
    nets = _jz_nets(i2i_shared_engine)
    _save_jz(tmp_path / "run", nets, epoch="5")
    _save_jz(tmp_path / "run", nets)  # latest wins over the numbered epoch
    w = import_junyanz_cyclegan(tmp_path / "run", "resnet_6blocks")
    assert w.recipe == "cyclegan" and sorted(w.nets) == ["D_A", "D_B", "G_A", "G_B"] and w.data == {}
    assert w.model["ngf"] == NGF and w.model["ndf"] == NGF and w.model["netD"] == "basic"
    assert w.model["norm"] == "instance" and w.model["no_dropout"] is True
    assert all(_same(w.nets[k], n.state_dict()) for k, n in nets.items())


def test_zoo_generator_with_module_prefix_and_stale_instance_norm_keys(i2i_shared_engine, tmp_path):
    g = _jz_nets(i2i_shared_engine, "resnet_9blocks")["G_A"]
    state = {f"module.{k}": v for k, v in g.state_dict().items()}
    # what PyTorch < 0.4 saved for the stateless InstanceNorm layers
    state["module.model.2.running_mean"] = torch.zeros(NGF)
    state["module.model.2.running_var"] = torch.ones(NGF)
    state["module.model.10.conv_block.2.num_batches_tracked"] = torch.tensor(0)
    path = tmp_path / "horse2zebra_pretrained" / "latest_net_G.pth"
    path.parent.mkdir()
    torch.save(state, path)
    w = import_junyanz_cyclegan([path], "resnet_9blocks")
    assert list(w.nets) == ["G_A"] and _same(w.nets["G_A"], g.state_dict())


def test_generator_B_alone_translates_B_to_A(i2i_shared_engine, tmp_path):
    paths = _save_jz(tmp_path, _jz_nets(i2i_shared_engine), roles=("G_B",))
    w = import_junyanz_cyclegan(paths, "resnet_6blocks")
    assert list(w.nets) == ["G_B"] and w.data == {"direction": "BtoA"}


def test_junyanz_wrong_files_are_checkpoint_errors(i2i_shared_engine, tmp_path):
    nets = _jz_nets(i2i_shared_engine)
    pix_D = i2i_shared_engine.registries.architectures.build("basic", input_nc=6, ndf=NGF, norm="instance")
    torch.save(pix_D.state_dict(), tmp_path / "latest_net_D_A.pth")
    torch.save(nets["G_A"].state_dict(), tmp_path / "latest_net_G_A.pth")
    with pytest.raises(CheckpointError, match=r"latest_net_D_A\.pth.*expected 3.*pix2pix"):
        import_junyanz_cyclegan(tmp_path, "resnet_6blocks")
    pix_G = i2i_shared_engine.registries.architectures.build("unet_128", input_nc=3, output_nc=3, ngf=NGF, norm="batch")
    torch.save(pix_G.state_dict(), tmp_path / "latest_net_G.pth")
    with pytest.raises(CheckpointError, match=r"latest_net_G\.pth is not a junyanz resnet_9blocks.*U-Net"):
        import_junyanz_cyclegan(tmp_path / "latest_net_G.pth", "resnet_9blocks")
    with pytest.raises(CheckpointError, match="net_D"):
        torch.save(pix_D.state_dict(), tmp_path / "latest_net_D.pth")
        import_junyanz_cyclegan(tmp_path / "latest_net_D.pth", "resnet_9blocks")
    with pytest.raises(CheckpointError, match="6 residual blocks.*resnet_6blocks"):  # 6 blocks imported as 9
        import_junyanz_cyclegan(tmp_path / "latest_net_G_A.pth", "resnet_9blocks")


def test_book_files_map_the_discriminators(i2i_shared_engine, tmp_path):
    build = i2i_shared_engine.registries.architectures.build
    book = {"G_AB": build("book_generator", num_blocks=1, width_div=16),
            "G_BA": build("book_generator", num_blocks=1, width_div=16),
            "D_A": build("book_discriminator", width_div=16), "D_B": build("book_discriminator", width_div=16)}
    for role, net in book.items():
        state = net.state_dict()
        torch.save({"state_dict": state} if role == "G_BA" else state, tmp_path / f"cyclegan_{role}.pt")
    w = import_book(tmp_path, "book")
    assert w.model == {"variant": "book", "input_nc": 3, "output_nc": 3, "num_blocks": 1, "width_div": 16}
    assert _same(w.nets["D_B"], book["D_A"].state_dict()) and _same(w.nets["D_A"], book["D_B"].state_dict())
    assert _same(w.nets["G_A"], book["G_AB"].state_dict()) and _same(w.nets["G_B"], book["G_BA"].state_dict())
    jz = tmp_path / "jz" / "cyclegan_G_AB.pt"
    jz.parent.mkdir()
    torch.save(_jz_nets(i2i_shared_engine)["G_A"].state_dict(), jz)
    with pytest.raises(CheckpointError, match="junyanz_cyclegan"):
        import_book(jz, "book")


def test_imported_zoo_generator_translates_through_the_core(i2i_shared_engine, tmp_path):
    g = _jz_nets(i2i_shared_engine)["G_A"]
    path = tmp_path / "latest_net_G.pth"
    torch.save(g.state_dict(), path)
    weights = import_official(i2i_shared_engine, "junyanz_cyclegan", "resnet_6blocks", [path], tmp_path / "run")
    recipe, _ = load_for_inference(i2i_shared_engine, weights, [], device="cpu")
    x = {"A": torch.rand(1, 3, 32, 32) * 2 - 1}
    with torch.no_grad():
        assert torch.allclose(recipe.translate(x), g(x["A"]))
    with pytest.raises(CheckpointError, match="G_B"):  # the zoo file holds one direction
        load_for_inference(i2i_shared_engine, weights, ["data.direction=BtoA"], device="cpu")


def test_key_mismatches_of_junyanz_files_are_caught_where_the_core_loads_them(i2i_shared_engine, tmp_path):
    state = _jz_nets(i2i_shared_engine)["G_A"].state_dict()
    state["model.1.extra"] = torch.zeros(1)  # a key no junyanz generator has
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"latest_net_G\.pth.*'G_A'.*unexpected.*model\.1\.extra"):
        import_official(i2i_shared_engine, "junyanz_cyclegan", "resnet_6blocks", [path], tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_book_generator_under_the_junyanz_importer_names_the_right_one(i2i_shared_engine, tmp_path):
    g = i2i_shared_engine.registries.architectures.build("book_generator", num_blocks=6, width_div=16)
    torch.save(g.state_dict(), tmp_path / "latest_net_G_A.pth")
    with pytest.raises(CheckpointError, match="book's generator; use --from book"):
        import_junyanz_cyclegan(tmp_path / "latest_net_G_A.pth", "resnet_6blocks")
