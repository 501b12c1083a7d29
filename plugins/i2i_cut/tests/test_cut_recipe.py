"""The cut recipe: steps of both modes, the draws seam, netF at build time, config checks, presets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from i2i_core import ConfigError, StepContext, losses_as_floats
from i2i_cut.draws import NumpyDraws, ReplayedDraws
from i2i_cut.presets import PRESETS

CUT_LOSSES = ["G_GAN", "D_real", "D_fake", "G", "NCE", "NCE_Y", "D"]
FASTCUT = {"nce_idt": False, "lambda_NCE": 10.0, "flip_equivariance": True}


def _step(recipe, batch: dict) -> dict:
    raw = recipe.training_step(batch, StepContext(torch.amp.GradScaler("cpu", enabled=False), step=1))
    # left on the device, detached: the trainer reads them at log points only (no per-step host sync)
    assert all(isinstance(v, torch.Tensor) and v.grad_fn is None for v in raw.values())
    return losses_as_floats(raw)


def _params(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _changed(before: list[torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


class Recording(NumpyDraws):
    """NumPy draws, remembered in call order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def flip(self) -> bool:
        out = super().flip()
        self.calls.append(("flip", out))
        return out

    def patch_ids(self, call: int, layer: int, positions: int, count: int) -> torch.Tensor:
        out = super().patch_ids(call, layer, positions, count)
        self.calls.append(("ids", call, layer, positions, out))
        return out


def test_cut_step_trains_G_D_and_F_with_the_reference_losses(make_recipe, batch):
    rec = make_recipe()
    assert sorted(rec.nets) == ["D", "F", "G"] and sorted(rec.optimizers) == ["D", "F", "G"]
    # netF exists before the first batch, sized by the generator's taps (3, 8, 16, 16 channels)
    assert [rec.nets["F"].state_dict()[f"mlp_{i}.0.weight"].shape[1] for i in range(4)] == [3, 8, 16, 16]
    before = {k: _params(n) for k, n in rec.nets.items()}
    logs = _step(rec, batch(b=2))
    assert list(logs) == CUT_LOSSES and all(np.isfinite(v) for v in logs.values())
    assert logs["G"] == pytest.approx(logs["G_GAN"] + 0.5 * (logs["NCE"] + logs["NCE_Y"]), rel=1e-5)
    assert logs["D"] == pytest.approx(0.5 * (logs["D_real"] + logs["D_fake"]), rel=1e-5)
    assert all(_changed(before[k], n) for k, n in rec.nets.items())
    assert all(p.requires_grad for p in rec.nets["D"].parameters())


def test_fastcut_step_has_no_identity_term(make_recipe, batch):
    rec = make_recipe(FASTCUT)
    logs = _step(rec, batch())
    assert "NCE_Y" not in logs and logs["G"] == pytest.approx(logs["G_GAN"] + logs["NCE"], rel=1e-5)


def test_numpy_draws_come_in_the_reference_order(make_recipe, batch):
    rec = make_recipe(FASTCUT | {"nce_idt": True})
    rec.draws = Recording()
    np.random.seed(7)
    _step(rec, batch())
    np.random.seed(7)
    expected_flip = np.random.random() < 0.5
    assert rec.draws.calls[0] == ("flip", expected_flip)
    ids = rec.draws.calls[1:]
    assert [(c[1], c[2]) for c in ids] == [(call, layer) for call in (0, 1) for layer in range(4)]
    for _, _, _, positions, got in ids:  # the reference: np.random.permutation(H * W)[:num_patches]
        assert torch.equal(got, torch.from_numpy(np.random.permutation(positions)[:min(16, positions)]))
    assert ids[0][3] == 38 * 38 and ids[1][3] == 32 * 32  # layer 0 is the padded input


def test_a_flipped_step_feeds_G_the_flipped_input(make_recipe, batch):
    rec = make_recipe(FASTCUT)
    seen: list[torch.Tensor] = []
    handle = rec.nets["G"].register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    x = batch()
    layers = len(rec.config.nce_layers)
    rec.draws = ReplayedDraws([[torch.arange(16) for _ in range(layers)]], flipped=True)
    _step(rec, x)
    handle.remove()
    assert torch.equal(seen[0], torch.flip(x["A"], [3]))
    assert torch.equal(seen[2], x["A"])  # the NCE keys come from the unflipped source


def test_replayed_draws_refuse_what_was_not_recorded(make_recipe, batch):
    rec = make_recipe()
    rec.draws = ReplayedDraws([[torch.arange(16)] * 4])  # NCE only, but nce_idt also needs NCE_Y's ids
    with pytest.raises(ValueError, match="NCE call 1"):
        _step(rec, batch())


def test_plain_sample_netF_and_nonsaturating_loss(make_recipe, batch):
    rec = make_recipe({"netF": "sample", "gan_mode": "nonsaturating"})
    assert "F" not in rec.optimizers and not list(rec.nets["F"].parameters())
    logs = _step(rec, batch(b=2))
    assert np.isfinite(logs["G"])


def test_inference_build_has_G_only_and_translates(make_recipe, batch):
    rec = make_recipe(training=False)
    assert list(rec.nets) == ["G"] and rec.optimizers == {} and rec.inference_nets() == ["G"]
    x = batch()
    with torch.no_grad():
        assert torch.equal(rec.translate(x), rec.nets["G"](x["A"]))
    assert list(rec.sample(x)) == ["real_A", "fake_B", "real_B", "idt_B"]
    graph = rec.export_graph(rec.inference_spec(), 32)
    assert graph.module(*graph.inputs).shape == (2, 3, 32, 32)
    with pytest.raises(ConfigError, match="input_nc is 3"):
        rec.translate({"A": torch.zeros(1, 1, 32, 32)})


@pytest.mark.parametrize("overrides, match", [
    ({"model": {"input_nc": 1}}, r"model\.nce_idt.*model\.input_nc"),
    ({"model": {"nce_layers": [0, 40]}}, r"model\.nce_layers \[0, 40\].*0 to 26"),
    ({"model": {"nce_layers": "0,x"}}, "nce_layers"),
    ({"model": {"lambda_NCE": 0}}, "lambda_NCE"),
    ({"data": {"crop_size": 30, "load_size": 32}}, "multiple of 4"),
])
def test_config_errors(engine, overrides, match):
    model = {"netG": "resnet_4blocks", **overrides.get("model", {})}
    with pytest.raises(ConfigError, match=match):
        engine.resolve_config("cut", overrides={"model": model, "data": overrides.get("data", {})})


def test_nce_layers_take_the_reference_spelling(engine):
    run = engine.resolve_config("cut", overrides={"model": {"nce_layers": "0,4,8"}})
    assert run.model["nce_layers"] == [0, 4, 8]


def test_presets_resolve_with_the_reference_modes(engine):
    names = {e.meta["preset"] for e in engine.registries.presets.for_recipe("cut")}
    assert set(PRESETS) <= names
    for name in PRESETS:
        run = engine.resolve_config("cut", name)
        assert run.data.dataset == "unaligned"
        fast = name.endswith("fastcut")
        assert run.model["flip_equivariance"] is fast and run.model["nce_idt"] is not fast
        if name != "demo":
            assert run.model["lambda_NCE"] == (10.0 if fast else 1.0)
            assert (run.trainer.n_epochs, run.trainer.n_epochs_decay) == ((150, 50) if fast else (200, 200))
            assert run.model["init_type"] == "xavier" and run.data.crop_size == 256
    assert engine.resolve_config("cut", "cityscapes").data.direction == "BtoA"
    assert engine.resolve_config("cut", "grumpifycat").data.test_split == "train"
    demo = engine.resolve_config("cut", "demo")
    assert demo.data.root is None and demo.data.synthetic["layout"] == "unaligned" and demo.trainer.max_steps


def test_the_identity_term_needs_A_and_B_of_one_size(make_recipe, batch):
    rec = make_recipe()
    x = batch()
    x["B"] = x["B"][:, :, :28]
    with pytest.raises(ConfigError, match=r"model\.nce_idt.*A \(32, 32\) and B \(28, 32\)"):
        _step(rec, x)
    _step(make_recipe(FASTCUT), x)  # without it, each domain keeps its own size
