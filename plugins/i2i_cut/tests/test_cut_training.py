"""The cut recipe under the trainer: a tiny run through the CLI resumes bit for bit (netF and NumPy draws
included), and the initial weights are the reference's for the reference's seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from i2i_core import find_weights, load_weights

#: tiny FastCUT on the synthetic unaligned set: flips and patch ids both come from NumPy
TINY = ["--set", "model.netG=resnet_4blocks", "--set", "model.ngf=4", "--set", "model.ndf=4",
        "--set", "model.netF_nc=8", "--set", "model.num_patches=16", "--set", "model.nce_idt=false",
        "--set", "model.flip_equivariance=true", "--set", "model.lambda_NCE=10",
        "--set", "data.load_size=32", "--set", "data.crop_size=32", "--set", "data.batch_size=2",
        "--set", 'data.synthetic={"layout": "unaligned", "n": 6, "size": 32, "seed": 1, "n_test": 2}',
        "--set", "trainer.save_every=100", "--set", "trainer.sample_every=100", "--set", "trainer.log_every=1"]
GOLDEN = Path(__file__).resolve().parents[3] / "tests" / "reference" / "golden"


def _run(invoke, out: Path, steps: int, *extra: str) -> list[dict]:
    res = invoke("run", "cut", "--preset", "demo", "--out", str(out), "--no-progress", *TINY,
                 "--set", f"trainer.max_steps={steps}", *extra)
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in (out / "losses.jsonl").read_text().splitlines()]


def test_a_resumed_run_continues_exactly(i2i_cli, tmp_path):
    invoke = i2i_cli  # the i2i CLI in-process (i2i_core.testing)
    straight = _run(invoke, tmp_path / "straight", 4)
    _run(invoke, tmp_path / "resumed", 2)
    resumed = _run(invoke, tmp_path / "resumed", 4, "--resume", "auto")
    assert [row["step"] for row in resumed] == [1, 2, 3, 4]
    losses = ["G_GAN", "D_real", "D_fake", "G", "NCE", "D"]
    assert [[row[k] for k in losses] for row in straight] == [[row[k] for k in losses] for row in resumed]
    ours, _, _ = load_weights(find_weights(tmp_path / "resumed"))
    ref, _, _ = load_weights(find_weights(tmp_path / "straight"))
    assert sorted(ours) == ["D", "F", "G"]
    for net, state in ref.items():
        for key, value in state.items():
            assert torch.equal(value, ours[net][key]), f"{net}/{key}"


@pytest.mark.parametrize("name", ["cut_cut_train", "cut_fastcut_train"])
def test_initial_weights_are_the_references_for_its_seed(engine, name):
    """G, D and netF (made at build time here, on the first batch there) draw the same torch numbers."""
    path = GOLDEN / f"{name}.pt"
    if not path.is_file():
        pytest.skip(f"{path} is not here (the plugin installed outside the i2i repository)")
    case = torch.load(path, weights_only=True)
    c, hyper = case["config"], case["hyper"]
    model = {k: v for k, v in {**c, **hyper}.items() if k in engine.recipe_class("cut").Config.model_fields}
    run = engine.resolve_config("cut", overrides={"model": model, "trainer": {"seed": case["meta"]["case_seed"]},
                                                  "data": {"load_size": 32, "crop_size": 32}})
    rec = engine.build_recipe(run)
    for ref_name, state in case["state_dict"].items():
        ours = rec.nets[ref_name[len("net"):]].state_dict()
        assert list(ours) == list(state)
        for key, value in state.items():
            assert torch.equal(ours[key], value), f"{ref_name}.{key}"
