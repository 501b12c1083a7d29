"""Weights for inference: safetensors round trip, files of older i2i versions, reading only some networks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from i2i_core.base.errors import CheckpointError
from i2i_core.io import checkpoint as ckpt

DATA = Path(__file__).parent / "data"


def _v1_tensors() -> dict[str, dict[str, torch.Tensor]]:
    """What tests/data/i2i_v1_weights.safetensors holds (it was written by i2i's own writer, before the library)."""
    g = torch.Generator().manual_seed(0)
    return {"G": {"model.1.weight": torch.randn(4, 3, 3, 3, generator=g), "model.1.bias": torch.randn(4, generator=g),
                  "model.2.num_batches_tracked": torch.tensor(7), "empty": torch.zeros(0)},
            "D": {"model.0.weight": torch.randn(2, 6, 4, 4, generator=g).to(torch.bfloat16),
                  "flag": torch.tensor([True, False])}}


def test_round_trip_every_dtype(tmp_path: Path) -> None:
    tensors = {"f32": torch.randn(3, 4), "f16": torch.randn(5).half(), "bf16": torch.randn(2, 2).bfloat16(),
               "i64": torch.arange(6).view(2, 3), "u8": torch.arange(4, dtype=torch.uint8), "b": torch.tensor([True]),
               "empty": torch.zeros(0, 3), "strided": torch.randn(4, 4).t()}
    path = ckpt.save_safetensors(tensors, tmp_path / "w.safetensors", {"k": "v"})
    got, meta = ckpt.load_safetensors(path)
    assert meta == {"k": "v"}
    assert set(got) == set(tensors)
    for name, t in tensors.items():
        assert got[name].dtype == t.dtype and torch.equal(got[name], t), name


def test_files_open_in_the_safetensors_library(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    path = ckpt.save_weights(tmp_path / "w.safetensors", {"G": {"w": torch.ones(2)}}, {"recipe": "x"}, step=3)
    assert torch.equal(load_file(path)["G/w"], torch.ones(2))


def test_older_i2i_files_still_load() -> None:
    nets, config, step = ckpt.load_weights(DATA / "i2i_v1_weights.safetensors")
    expected = _v1_tensors()
    assert (config["recipe"], step) == ("pix2pix", 12)
    assert set(nets) == set(expected)
    for net, state in expected.items():
        assert set(nets[net]) == set(state)
        for key, t in state.items():
            assert nets[net][key].dtype == t.dtype and torch.equal(nets[net][key], t), (net, key)


def test_only_the_requested_networks_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors import safe_open

    read: list[str] = []
    real = safe_open

    class Spy:
        def __init__(self, *a, **kw) -> None:
            self.inner = real(*a, **kw)

        def __enter__(self):
            self.inner.__enter__()
            return self

        def __exit__(self, *exc):
            return self.inner.__exit__(*exc)

        def metadata(self):
            return self.inner.metadata()

        def keys(self):
            return self.inner.keys()

        def get_tensor(self, name):
            read.append(name)
            return self.inner.get_tensor(name)

    monkeypatch.setattr("safetensors.safe_open", Spy)
    nets, _, _ = ckpt.load_weights(DATA / "i2i_v1_weights.safetensors", nets=["G"])
    assert set(nets) == {"G"}
    assert read and all(name.startswith("G/") for name in read)


def test_truncated_file_is_one_line(tmp_path: Path) -> None:
    path = ckpt.save_weights(tmp_path / "w.safetensors", {"G": {"w": torch.ones(1000)}}, {"recipe": "x"})
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated or not a safetensors file"):
        ckpt.load_weights(path)
