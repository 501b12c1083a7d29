"""The fast profile: what it chooses per device, and how far its losses drift from the exact mode."""

from __future__ import annotations

import json

import pytest
import torch

from i2i_core import Engine, TrainerConfig
from i2i_core.training import profile as profiles


def test_exact_profile_keeps_every_setting():
    cfg = TrainerConfig(precision="fp32", fused_optimizer=False, channels_last=True)
    chosen = profiles.choose(cfg, torch.device("cpu"))
    applied = profiles.apply(cfg, chosen)  # every setting kept; only the thread count is resolved (and recorded)
    assert applied.model_dump(exclude={"threads"}) == cfg.model_dump(exclude={"threads"})
    assert applied.threads == chosen.threads == profiles.default_threads()
    assert chosen.summary().startswith("exact profile: fp32")


@pytest.mark.parametrize("native_bf16", [True, False])
def test_fast_profile_on_cpu_picks_bf16_only_where_native(monkeypatch, native_bf16):
    monkeypatch.setattr(profiles, "cpu_has_fast_bf16", lambda: native_bf16)
    chosen = profiles.choose(TrainerConfig(profile="fast"), torch.device("cpu"), total_steps=100)
    assert chosen.precision == ("bf16" if native_bf16 else "fp32")
    assert chosen.fused_optimizer and not chosen.channels_last  # channels_last measured slower on CPU
    assert not chosen.compile and "not compiled" in chosen.summary()  # 100 steps do not pay back compiling
    assert chosen.threads == profiles.cores_per_rank()
    assert profiles.choose(TrainerConfig(profile="fast"), torch.device("cpu"), 10**6).compile


def test_threads_are_shared_among_the_ranks_of_a_node(monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "64")
    assert profiles.cores_per_rank() == 1


def test_allocator_tuning_on_glibc():
    if profiles._glibc() is None:
        pytest.skip("not glibc")
    assert profiles.tune_malloc()


def _losses(tmp_path, name, profile):
    sets = ["model.ngf=4", "model.ndf=4", "model.num_downs=5", "data.batch_size=2", "data.load_size=32",
            "data.crop_size=32", "trainer.max_steps=50", "trainer.log_every=1",
            "trainer.sample_every=1000", "trainer.save_every=1000", "trainer.evaluate=false",
            f"trainer.profile={profile}",
            'data.synthetic={"layout": "aligned", "n": 12, "n_test": 2, "size": 32, "seed": 0}']
    threads = torch.get_num_threads()
    try:
        result = Engine(warn=False).run("pix2pix", "demo", overrides=sets, out=str(tmp_path / name), progress=False)
    finally:
        torch.set_num_threads(threads)  # the fast profile sizes the pool for the process; leave the suite's alone
    rows = [json.loads(line) for line in (tmp_path / name / "losses.jsonl").read_text().splitlines()]
    return result, rows


def test_fast_losses_track_exact_ones_on_the_demo(tmp_path):
    """Stated bound: over 50 demo steps the fast profile's mean G_L1 of the last 10 steps is within 10% of the
    exact mode's, and no step's G_L1 differs by more than 25% (fused Adam sums in another order; bf16, where
    chosen, rounds every activation, and GAN trajectories amplify both)."""
    exact_result, exact = _losses(tmp_path, "exact", "exact")
    fast_result, fast = _losses(tmp_path, "fast", "fast")
    assert fast_result.config.trainer.fused_optimizer and not exact_result.config.trainer.fused_optimizer
    a = [r["G_L1"] for r in exact]
    b = [r["G_L1"] for r in fast]
    assert len(a) == len(b) == 50
    tail_a, tail_b = sum(a[-10:]) / 10, sum(b[-10:]) / 10
    assert abs(tail_b - tail_a) <= 0.10 * tail_a, (tail_a, tail_b)
    assert max(abs(x - y) / x for x, y in zip(a, b, strict=True)) <= 0.25
