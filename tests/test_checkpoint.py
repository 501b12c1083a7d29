"""Checkpoint files: safetensors round trip, atomic writes, clear errors."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from torch import nn

from i2i_core import CheckpointError
from i2i_core.io import checkpoint as ckpt


def test_safetensors_round_trip_all_dtypes(tmp_path):
    tensors = {"f32": torch.randn(2, 3), "bf16": torch.randn(4).bfloat16(), "i64": torch.tensor(7),
               "u8": torch.arange(5, dtype=torch.uint8), "empty": torch.zeros(0, 3), "b": torch.tensor([True, False])}
    path = ckpt.save_safetensors(tensors, tmp_path / "x.safetensors", {"k": "v"})
    got, meta = ckpt.load_safetensors(path)
    assert meta == {"k": "v"}
    for k, t in tensors.items():
        assert got[k].dtype == t.dtype and torch.equal(got[k], t), k
    # standard layout: u64 header length, JSON header, data
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert json.loads(raw[8:8 + n])["f32"]["shape"] == [2, 3]


def test_truncated_file_is_a_clear_error(tmp_path):
    path = ckpt.save_weights(tmp_path / "w.safetensors", {"G": nn.Linear(3, 4)}, {"recipe": "toy"})
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="w.safetensors is truncated"):
        ckpt.load_weights(path)


def test_not_an_i2i_file(tmp_path):
    path = ckpt.save_safetensors({"a": torch.zeros(1)}, tmp_path / "a.safetensors")
    with pytest.raises(CheckpointError, match="not an i2i checkpoint"):
        ckpt.load_weights(path)


def test_other_architecture_is_named(tmp_path):
    path = ckpt.save_weights(tmp_path / "w.safetensors", {"G": nn.Linear(3, 4)}, {"recipe": "toy"})
    nets, config, _ = ckpt.load_weights(path)
    assert config == {"recipe": "toy"}
    with pytest.raises(CheckpointError, match=r"network 'G' is of another architecture \(shape of weight"):
        ckpt.load_into({"G": nn.Linear(3, 5)}, nets, path)
    with pytest.raises(CheckpointError, match="missing"):
        ckpt.load_into({"G": nn.Sequential(nn.Linear(3, 4))}, nets, path)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def boom(fh):
        fh.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        ckpt.atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_training_state_weights_only(tmp_path):
    path = ckpt.save_state(tmp_path / "s.pt", {"step": 3, "t": torch.ones(2)})
    assert ckpt.load_state(path)["step"] == 3
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="s.pt is truncated or unreadable"):
        ckpt.load_state(path)


@pytest.mark.parametrize("read", [ckpt.load_state, ckpt.read_official_state])
def test_an_unreadable_file_is_one_line_naming_it(read, tmp_path):
    path = tmp_path / "notes.pth"
    path.write_bytes(b"not a checkpoint")  # torch.load's weights_only refusal explains itself over ten lines
    with pytest.raises(CheckpointError) as caught:
        read(path)
    message = str(caught.value)
    assert "notes.pth" in message and "\n" not in message and "UnpicklingError" in message


def test_resume_without_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        ckpt.find_resume(tmp_path)


def test_copy_matching_counts():
    src = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))
    dst = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 1))
    report = ckpt.copy_matching({"G": dst}, {"G": src.state_dict()})
    assert report == {"G": (2, 4)}
    assert torch.equal(dst[0].weight, src[0].weight)
