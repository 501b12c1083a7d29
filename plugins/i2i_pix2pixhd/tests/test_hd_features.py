"""Feature clustering: per-instance encoding, deterministic k-means, the cluster file, the CLI group."""

from __future__ import annotations

import pytest
import torch

from i2i_core import ConfigError
from i2i_pix2pixhd.features import (
    cluster_features,
    encode_features,
    kmeans,
    load_clusters,
    save_clusters,
)


def _blobs(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    return torch.cat([c + 0.1 * torch.randn(20, 2, generator=g) for c in centres])


def test_kmeans_is_deterministic_and_finds_blobs():
    x = _blobs()
    a, b = kmeans(x, 3, seed=0), kmeans(x, 3, seed=0)
    assert torch.equal(a, b)
    found = sorted(a.round().tolist())
    assert found == [[-5.0, 5.0], [0.0, 0.0], [5.0, 5.0]]
    rng_state = torch.get_rng_state()
    kmeans(x, 3, seed=1)
    assert torch.equal(rng_state, torch.get_rng_state())  # private generator only
    few = x[:2]
    assert torch.equal(kmeans(few, 10), few)


def test_cluster_features_filters_small_instances():
    rows = torch.cat([_blobs(), torch.ones(60, 1)], dim=1).double()
    rows[:20, -1] = 0.1  # the first blob is made of tiny instances
    centres = cluster_features({0: rows, 1: torch.zeros(0, 3, dtype=torch.float64)}, n_clusters=2)
    assert list(centres) == [0] and centres[0].shape == (2, 2) and centres[0].dtype == torch.float32
    assert sorted(centres[0].round().tolist()) == [[-5.0, 5.0], [5.0, 5.0]]


def test_encode_features_rows_per_instance(make_recipe, label_batch):
    rec = make_recipe({"instance_feat": True}, training=False)
    batch = label_batch(b=2)
    items = [{k: (v[i] if isinstance(v, torch.Tensor) else v[i]) for k, v in batch.items()} for i in range(2)]
    feats = encode_features(rec, items)
    assert set(range(4)) <= set(feats)
    total = sum(len(r) for r in feats.values())
    assert total == sum(len(batch["inst"][i].unique()) for i in range(2))
    for rows in feats.values():
        assert rows.shape[1] == 4 and rows.dtype == torch.float64
    area = torch.cat([r[:, -1] for r in feats.values()])
    assert float(area.sum()) == pytest.approx(2 * 32.0)  # pixels / (H * W // 32), summed per image
    if len(feats[3]):
        with torch.no_grad():
            pooled = rec.nets["E"](batch["image"][:1], batch["inst"][:1])
        mask = batch["inst"][0, 0] == 3001
        if mask.any():
            want = pooled[0][:, mask][:, 0].double()
            assert any(torch.allclose(r[:3], want, atol=1e-6) for r in feats[3])


def test_encode_features_needs_an_encoder(make_recipe, label_batch):
    with pytest.raises(ConfigError, match="no feature encoder"):
        encode_features(make_recipe(training=False), [label_batch(b=1)])


def test_cluster_file_round_trip(tmp_path):
    centres = {0: torch.randn(3, 3), 26: torch.randn(1, 3)}
    path = save_clusters(centres, tmp_path / "features_clustered.pt", feat_num=3, n_clusters=10)
    back = load_clusters(path, feat_num=3)
    assert set(back) == {0, 26} and torch.equal(back[26], centres[26])
    with pytest.raises(ConfigError, match="feat_num"):
        load_clusters(path, feat_num=4)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="cannot read"):
        load_clusters(tmp_path / "junk.pt")


def test_command_group_registers():
    import click
    from click.testing import CliRunner

    from i2i_pix2pixhd.plugin import register_commands

    @click.group()
    def cli() -> None:
        pass

    register_commands(cli)
    result = CliRunner().invoke(cli, ["pix2pixhd", "encode-features", "--help"])
    assert result.exit_code == 0 and "features_clustered.pt" in result.output


def test_encode_features_command_on_a_run(i2i_shared_engine, tiny, tmp_path, monkeypatch):
    """``i2i pix2pixhd encode-features RUN`` on saved runs, with the engine the CLI hands over."""
    import click
    from click.testing import CliRunner

    from i2i_core import save_weights
    from i2i_pix2pixhd.commands import add_commands
    from i2i_pix2pixhd.recipe import CLUSTERS_FILE

    if "labels" not in i2i_shared_engine.registries.datasets:
        pytest.skip("the datasets plugin (reader 'labels') is not installed")
    monkeypatch.setenv("I2I_CACHE", str(tmp_path / "cache"))
    data = {"root": None, "synthetic": {"layout": "labels", "n": 3, "size": 32, "seed": 0, "classes": 3},
            "preprocess": "none", "load_size": 32, "crop_size": 32}
    for name, model in (("feat", {**tiny, "instance_feat": True}), ("plain", tiny)):
        run = i2i_shared_engine.resolve_config("pix2pixhd", overrides={"model": model, "data": data})
        recipe = i2i_shared_engine.build_recipe(run, device="cpu", training=False)
        save_weights(tmp_path / name / "checkpoints" / "latest.safetensors", recipe.nets, run.model_dump())

    @click.group()
    def cli() -> None:
        pass

    add_commands(cli)
    args = ["pix2pixhd", "encode-features", str(tmp_path / "feat"), "--n-clusters", "2"]
    result = CliRunner().invoke(cli, args, obj={"engine": i2i_shared_engine})
    assert result.exit_code == 0, result.output
    centres = load_clusters(tmp_path / "feat" / CLUSTERS_FILE, feat_num=3)
    assert centres and all(len(c) <= 2 for c in centres.values())
    result = CliRunner().invoke(cli, ["pix2pixhd", "encode-features", str(tmp_path / "plain")],
                                obj={"engine": i2i_shared_engine})
    assert isinstance(result.exception, ConfigError) and "no feature encoder" in str(result.exception)
    result = CliRunner().invoke(cli, args)  # a host that hands over no engine gets one line, not a new Engine
    assert result.exit_code == 1 and "no engine on the click context" in result.output
