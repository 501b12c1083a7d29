"""CUDA-only checks (``pytest -m cuda``; every test skips without a CUDA device).

Run by ``benchmarks/gpu_check.sh`` when a GPU machine is lent: autocast steps stay finite, a resumed
CUDA run equals an uninterrupted one, and the fast profile picks bf16 + channels_last there.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from i2i_core import Engine, Trainer, TrainerConfig
from i2i_core.training import profile as profiles
from toy import ToyPlugin, toy_items

# bit-exact cuBLAS across runs (read when the first cuBLAS handle is made)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

TINY = ["model.ngf=8", "model.ndf=8", "model.num_downs=5", "data.batch_size=2", "data.load_size=32",
        "data.crop_size=32", "trainer.log_every=1", "trainer.sample_every=1000", "trainer.save_every=1000",
        "trainer.evaluate=false", "trainer.device=cuda",
        'data.synthetic={"layout": "aligned", "n": 8, "n_test": 2, "size": 32, "seed": 0}']


def _pix2pix(tmp_path, name: str, *sets: str) -> list[dict]:
    threads = torch.get_num_threads()
    try:
        Engine(warn=False).run("pix2pix", "demo", overrides=[*TINY, *sets], out=str(tmp_path / name), progress=False)
    finally:
        torch.set_num_threads(threads)
    return [json.loads(line) for line in (tmp_path / name / "losses.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_autocast_training_steps_are_finite(tmp_path, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    rows = _pix2pix(tmp_path, precision, "trainer.max_steps=6", f"trainer.precision={precision}")
    assert [r["step"] for r in rows] == list(range(1, 7))
    values = [v for r in rows for k, v in r.items() if k.startswith(("G_", "D_"))]
    assert values and all(v == v and abs(v) != float("inf") for v in values), rows


def test_fast_profile_picks_bf16_and_channels_last_on_cuda(tmp_path):
    chosen = profiles.choose(TrainerConfig(profile="fast"), torch.device("cuda"), total_steps=100)
    assert chosen.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    assert chosen.channels_last and chosen.fused_optimizer and chosen.threads is None
    rows = _pix2pix(tmp_path, "fast", "trainer.max_steps=4", "trainer.profile=fast")
    assert len(rows) == 4 and all(v == v for r in rows for k, v in r.items() if k.startswith("G_"))


def test_resume_on_cuda_continues_exactly(tmp_path):
    engine = Engine([ToyPlugin()], autoload=False, warn=False)

    def fit(steps: int, out: str, resume=None):
        run = engine.resolve_config("toy", overrides={
            "trainer": {"max_steps": steps, "device": "cuda", "seed": 3, "deterministic": True, "log_every": 1,
                        "sample_every": 1000},
            "model": {"dropout": 0.3}, "data": {"batch_size": 2}})
        recipe = engine.build_recipe(run, device="cuda")
        t = Trainer(run.trainer, tmp_path / out, engine=engine, run_config=run, progress=False)
        t.fit(recipe, toy_items(6), resume=resume)
        return t, recipe

    _, straight = fit(5, "a")
    fit(2, "b")
    t, resumed = fit(5, "b", resume=tmp_path / "b")
    assert t.step == 5
    for key, value in straight.nets["G"].state_dict().items():
        other = resumed.nets["G"].state_dict()[key]
        assert value.is_cuda and torch.equal(value, other), key
