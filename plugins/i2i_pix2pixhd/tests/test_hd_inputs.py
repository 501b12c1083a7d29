"""encode_input: one-hot via scatter, instance edges, channel order, and clear data errors."""

from __future__ import annotations

import pytest
import torch

from i2i_core import DataError
from i2i_pix2pixhd.inputs import colorize_labels, encode_input, instance_edges


def test_one_hot_then_edges():
    label = torch.tensor([[[[0.0, 1.0], [2.0, 2.0]]]])
    inst = torch.tensor([[[[5.0, 5.0], [5.0, 6.0]]]])
    out = encode_input({"label": label, "inst": inst}, label_nc=3, no_instance=False)
    assert out.shape == (1, 4, 2, 2)
    assert torch.equal(out[:, :3].argmax(1, keepdim=True).float(), label)
    assert torch.equal(out[:, :3].sum(1), torch.ones(1, 2, 2))
    # both pixels of a differing pair are marked; (0, 0) has equal neighbours only
    assert torch.equal(out[0, 3], torch.tensor([[0.0, 1.0], [1.0, 1.0]]))


def test_edges_in_all_four_directions():
    inst = torch.zeros(1, 1, 5, 5)
    inst[..., 2, 2] = 1
    edge = instance_edges(inst)[0, 0]
    want = torch.zeros(5, 5)
    want[2, 2] = want[1, 2] = want[3, 2] = want[2, 1] = want[2, 3] = 1
    assert torch.equal(edge, want)


def test_no_instance_and_label_image():
    label = torch.randint(0, 4, (2, 1, 4, 4)).float()
    assert encode_input({"label": label}, label_nc=4, no_instance=True).shape == (2, 4, 4, 4)
    rgb = torch.rand(2, 3, 4, 4) * 2 - 1
    out = encode_input({"label": rgb, "inst": torch.zeros(2, 1, 4, 4)}, label_nc=0, no_instance=False)
    assert torch.equal(out[:, :3], rgb) and out.shape[1] == 4


def test_label_out_of_range_names_file_and_value():
    label = torch.zeros(2, 1, 4, 4)
    label[1, 0, 2, 3] = 35
    batch = {"label": label, "label_path": ["a/ok.png", "b/bad_labelIds.png"]}
    with pytest.raises(DataError) as err:
        encode_input(batch, label_nc=35, no_instance=True)
    msg = str(err.value)
    assert "b/bad_labelIds.png" in msg and "35" in msg and "label_nc" in msg and "\n" not in msg


def test_missing_instance_map_is_a_data_error():
    with pytest.raises(DataError, match="no_instance"):
        encode_input({"label": torch.zeros(1, 1, 4, 4), "label_path": ["x.png"]}, label_nc=2, no_instance=False)


def test_colorize_labels_range():
    out = colorize_labels(torch.arange(4.0).reshape(1, 1, 2, 2), 4)
    assert out.shape == (1, 3, 2, 2) and out.min() >= -1 and out.max() <= 1
    assert not torch.equal(out[0, :, 0, 0], out[0, :, 0, 1])


def test_an_rgb_label_map_is_one_line_naming_the_file_and_its_mode(i2i_shared_engine, tiny, tmp_path):
    """A colour label PNG read by the labels reader: one DataError with the path, mode RGB and what is expected."""
    from PIL import Image

    from i2i_core import StepContext

    if "labels" not in i2i_shared_engine.registries.datasets:
        pytest.skip("the datasets plugin (reader 'labels') is not installed")
    for folder, mode in (("train_label", "RGB"), ("train_inst", "L"), ("train_img", "RGB")):
        (tmp_path / folder).mkdir()
        Image.new(mode, (32, 32), (200, 10, 10) if mode == "RGB" else 0).save(tmp_path / folder / "a.png")
    run = i2i_shared_engine.resolve_config("pix2pixhd", overrides={
        "model": tiny, "data": {"root": str(tmp_path), "preprocess": "none", "load_size": 32, "crop_size": 32}})
    data_cfg = run.data
    item = i2i_shared_engine.registries.datasets.build(data_cfg.dataset, data_cfg, "train")[0]
    batch = {k: (v.unsqueeze(0) if isinstance(v, torch.Tensor) else [v]) for k, v in item.items()}
    recipe = i2i_shared_engine.build_recipe(run, device="cpu")
    with pytest.raises(DataError) as err:
        recipe.training_step(batch, StepContext(torch.amp.GradScaler("cpu", enabled=False)))
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "train_label" / "a.png") in message
    assert "mode RGB" in message and "3 channels" in message and "model.label_nc=4" in message
    assert "model.label_nc=0" in message  # the way out when the colours are meant as the input image
