"""The ``cut`` importer: reference-layout files become a run that translates like the reference's generator."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from i2i_core import CheckpointError, find_weights, import_official, load_for_inference
from i2i_cut.importers import import_cut

GOLDEN = Path(__file__).resolve().parents[3] / "tests" / "reference" / "golden"


@pytest.fixture(scope="module")
def case() -> dict:
    path = GOLDEN / "cut_cut_train.pt"
    if not path.is_file():
        pytest.skip(f"{path} is not here (the plugin installed outside the i2i repository)")
    return torch.load(path, weights_only=True)


def _write(folder: Path, states: dict[str, dict], prefix: str = "latest") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for role, state in states.items():
        # a DataParallel save, as the reference writes it on several GPUs: the importer strips module.
        torch.save({f"module.{k}": v for k, v in state.items()}, folder / f"{prefix}_net_{role}.pth")
    return folder


def test_imported_generator_translates_like_the_reference(engine, case, tmp_path):
    states = {ref[len("net"):]: state for ref, state in case["state_dict"].items()}
    folder = _write(tmp_path / "ckpt", states)
    imported = import_cut(folder)
    assert sorted(imported.nets) == ["D", "F", "G"]
    assert {k: imported.model[k] for k in ("netG", "ngf", "ndf", "normG", "netF_nc", "no_antialias")} == {
        "netG": "resnet_9blocks", "ngf": 4, "ndf": 4, "normG": "instance", "netF_nc": 16, "no_antialias": False}
    weights = import_official(engine, "cut", None, [folder], tmp_path / "run")
    recipe, _ = load_for_inference(engine, find_weights(tmp_path / "run"), [])
    assert list(recipe.nets) == ["G"]
    real_A = case["inputs"]["A"][0]
    expected = case["outputs"]["fake_B_step1"]  # the reference G on step 1's A, before any update
    got = recipe.translate({"A": real_A})
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4), (got - expected).abs().max()
    assert weights.is_file()


def test_a_lone_pretrained_generator_is_enough(engine, case, tmp_path):
    state = case["state_dict"]["netG"]
    file = tmp_path / "horse2zebra_cut_pretrained" / "latest_net_G.pth"
    file.parent.mkdir()
    torch.save(state, file)
    imported = import_cut(file, "resnet_9blocks")
    assert list(imported.nets) == ["G"]
    with pytest.raises(CheckpointError, match="resnet_6blocks.*resnet_9blocks|--arch resnet_6blocks"):
        import_cut(file, "resnet_6blocks")


def test_files_of_other_models_are_refused_in_one_line(case, tmp_path):
    g = dict(case["state_dict"]["netG"])
    del g["model.7.filt"]  # a blur-pool buffer missing: not the layout the rest implies
    file = tmp_path / "latest_net_G.pth"
    torch.save(g, file)
    with pytest.raises(CheckpointError, match=r"latest_net_G\.pth is not a CUT resnet_9blocks generator: missing"):
        import_cut(file)
    junyanz_unet = {"model.model.0.weight": torch.zeros(4, 3, 4, 4)}
    torch.save(junyanz_unet, file)
    with pytest.raises(CheckpointError, match="no model.1.weight"):
        import_cut(file)
    d = {f"module.{k}": v for k, v in case["state_dict"]["netD"].items()}
    torch.save(d, tmp_path / "latest_net_D.pth")
    with pytest.raises(CheckpointError, match="no generator"):
        import_cut([tmp_path / "latest_net_D.pth"])
