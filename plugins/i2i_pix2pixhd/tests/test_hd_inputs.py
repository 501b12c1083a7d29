"""encode_input: one-hot via scatter, instance edges, channel order, and clear data errors."""

from __future__ import annotations

import pytest
import torch

from i2i_core.errors import DataError
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
