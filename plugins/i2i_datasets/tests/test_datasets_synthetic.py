"""The synthetic generator: determinism, layouts, label/instance consistency, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from i2i_core import ConfigError, DataError
from i2i_datasets import synthetic as syn
from i2i_datasets._io import ids_image, ids_to_tensor, open_image, pil_to_uint8


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def _ids(path: Path) -> torch.Tensor:
    return ids_to_tensor(ids_image(open_image(path), path, "map"))[0].long()


@pytest.mark.parametrize("layout", syn.LAYOUTS)
def test_deterministic_per_seed(tmp_path: Path, layout: str) -> None:
    spec = {"layout": layout, "n": 3, "n_test": 2, "size": 24, "seed": 5, "classes": 3}
    a = _files(syn.generate(spec, tmp_path / "a"))
    b = _files(syn.generate(spec, tmp_path / "b"))
    c = _files(syn.generate({**spec, "seed": 6}, tmp_path / "c"))
    assert a == b
    assert a.keys() == c.keys() and a != c
    expected = {"aligned": 5, "unaligned": 10, "labels": 15}[layout]
    assert len(a) == expected


def test_aligned_layout(tmp_path: Path) -> None:
    root = syn.generate({"layout": "aligned", "n": 2, "n_test": 1, "size": 16, "classes": 5}, tmp_path)
    img = open_image(root / "train" / "00000.png")
    assert img.size == (32, 16) and img.mode == "RGB"
    left = pil_to_uint8(img)[:, :, :16].reshape(3, -1).t()
    palette = {tuple(c) for c in syn.label_colors(5).tolist()}
    assert {tuple(c) for c in left.tolist()} <= palette  # A is a flat class-colour rendering
    assert (root / "test" / "00000.png").is_file()
    manifest = json.loads((root / syn.MANIFEST).read_text())
    assert manifest["layout"] == "aligned" and manifest["version"] == syn.SYNTHETIC_VERSION
    assert manifest["classes"] == 5 and manifest["label_nc"] == 6 and manifest["size"] == 16


def test_labels_layout_consistency(tmp_path: Path) -> None:
    root = syn.generate({"layout": "labels", "n": 4, "n_test": 1, "size": 32, "classes": 4, "seed": 1}, tmp_path)
    for i in range(4):
        name = f"{i:05d}.png"
        assert open_image(root / "train_label" / name).mode == "L"
        label, inst = _ids(root / "train_label" / name), _ids(root / "train_inst" / name)
        assert int(label.max()) <= 4 and (label > 0).any()
        assert torch.equal(inst // 1000, label)  # class * 1000 + k; background keeps id 0
        assert torch.equal(inst[label == 0], torch.zeros_like(inst[label == 0]))
        assert open_image(root / "train_img" / name).size == (32, 32)
    assert sorted(p.name for p in root.iterdir()) == sorted([*syn.layout_folders(syn.validate_spec(
        {"layout": "labels", "n": 4, "n_test": 1})), syn.MANIFEST])


def test_unaligned_pairing(tmp_path: Path) -> None:
    spec = syn.validate_spec({"layout": "unaligned", "n": 3, "n_test": 2, "size": 24, "seed": 2})
    root = syn.generate(spec, tmp_path)
    names = lambda d: sorted(p.name for p in (root / d).iterdir())  # noqa: E731
    assert names("testA") == names("testB") == ["00000.png", "00001.png"]
    assert names("trainA") == names("trainB")
    # held-out pairs: one scene in two styles; training: different scenes per domain
    for i in range(2):
        assert syn.scene_seed(spec, "testA", i) == syn.scene_seed(spec, "testB", i)
        assert (root / "testA" / f"{i:05d}.png").read_bytes() != (root / "testB" / f"{i:05d}.png").read_bytes()
    train_a = {syn.scene_seed(spec, "trainA", i) for i in range(3)}
    train_b = {syn.scene_seed(spec, "trainB", i) for i in range(3)}
    assert not train_a & train_b
    # the same scene gives the same silhouettes: the label maps of a test pair agree
    scene = syn.make_scene(syn.scene_seed(spec, "testA", 0), spec.classes)
    other = syn.make_scene(syn.scene_seed(spec, "trainB", 0), spec.classes)
    assert not torch.equal(syn.render_maps(scene, 24)[0], syn.render_maps(other, 24)[0])


def test_spec_validation() -> None:
    assert syn.validate_spec({"n": 10}).n_test == 2
    assert syn.validate_spec({"n": 3}).n_test == 1
    with pytest.raises(ConfigError, match=r"data\.synthetic\.classes: .*less than or equal to 64"):
        syn.validate_spec({"classes": 100})
    with pytest.raises(ConfigError, match=r"data\.synthetic: expected a table"):
        syn.validate_spec([1, 2])


def test_ensure_synthetic_caches(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"layout": "aligned", "n": 2, "n_test": 1, "size": 16}
    first = syn.ensure_synthetic(spec)
    assert first.parent == cache / "synthetic" and first.name.startswith("aligned-")
    assert (first / syn.MANIFEST).is_file() and len(list((first / "train").iterdir())) == 2

    def boom(*_a, **_k):
        raise AssertionError("regenerated a cached set")

    monkeypatch.setattr(syn, "generate", boom)
    assert syn.ensure_synthetic(dict(spec)) == first
    assert syn.ensure_synthetic({**spec, "n_test": 1, "seed": 0}) == first  # defaults spelled out: same key


def test_ensure_synthetic_is_atomic(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"layout": "labels", "n": 2, "size": 16}
    real = syn.generate

    def dies_halfway(s, out, progress=None):
        real({**s.model_dump(), "n": 1}, out)
        (Path(out) / syn.MANIFEST).unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(syn, "generate", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        syn.ensure_synthetic(spec)
    assert list((cache / "synthetic").iterdir()) == []  # the temporary folder is gone, nothing final
    monkeypatch.setattr(syn, "generate", real)
    path = syn.ensure_synthetic(spec)
    assert len(list((path / "train_label").iterdir())) == 2


def test_ensure_synthetic_refuses_foreign_folder(cache: Path) -> None:
    spec = syn.validate_spec({"layout": "unaligned", "n": 1, "size": 16})
    final = cache / "synthetic" / f"unaligned-{syn.spec_key(spec)}"
    (final / "trainA").mkdir(parents=True)
    with pytest.raises(DataError, match=r"exists but has no synthetic\.json"):
        syn.ensure_synthetic(spec)
