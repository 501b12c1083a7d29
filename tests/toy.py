"""A tiny recipe and plugin used by the core tests (no model plugin needed)."""

from __future__ import annotations

import torch
from torch import nn

from i2i_core import Modules, Recipe, RecipeConfig, hookimpl


class ToyConfig(RecipeConfig):
    width: int = 4
    dropout: float = 0.0
    #: steps whose loss is NaN (divergence tests); from ``nan_from`` on, every step's is
    nan_steps: list[int] = []
    nan_from: int = 0
    norm: str = "batch"
    #: run G twice and backpropagate twice (breaks DDP's one-backward-per-network rule; distributed tests)
    second_backward: bool = False


def toy_generator(input_nc: int = 3, output_nc: int = 3, width: int = 4, dropout: float = 0.0,
                  norm: str = "batch") -> nn.Module:
    """Two convs with batch norm (so that running statistics exist; or instance norm) and optional dropout."""
    layer = nn.BatchNorm2d(width) if norm == "batch" else nn.InstanceNorm2d(width, affine=True)
    # a bias before instance norm is cancelled: its gradient is rounding noise, which Adam scales up to lr-sized steps
    return nn.Sequential(nn.Conv2d(input_nc, width, 3, padding=1, bias=norm == "batch"), layer, nn.ReLU(),
                         nn.Dropout(dropout), nn.Conv2d(width, output_nc, 3, padding=1), nn.Tanh())


class ToyRecipe(Recipe):
    name = "toy"
    Config = ToyConfig

    def build(self, ctx):
        g = ctx.architecture("toy_g", width=self.config.width, dropout=self.config.dropout, norm=self.config.norm)
        return Modules(nets={"G": g}, optimizers={"G": ctx.optimizer(g.parameters())})

    def training_step(self, batch, step):
        opt = self.optimizers["G"]
        step.zero_grad(opt)
        fake = self.nets["G"](batch["A"])
        loss = (fake.float() - batch["B"].float()).abs().mean()
        c = self.config
        if step.step in c.nan_steps or (c.nan_from and step.step >= c.nan_from):
            loss = loss * float("nan")
        if c.second_backward:
            again = (self.nets["G"](batch["A"] * 0.5).float() - batch["B"].float()).abs().mean()
            step.backward(loss)
            step.backward(again)
        else:
            step.backward(loss)
        step.optimizer_step(opt)
        return {"L1": loss.detach()}

    def translate(self, batch):
        return self.nets["G"](batch["A"])


class ToyPlugin:
    @hookimpl
    def register_architectures(self, register):
        register("toy_g", toy_generator, role="generator", description="tiny conv net for tests")

    @hookimpl
    def register_recipes(self, register):
        register("toy", ToyRecipe, description="toy recipe for tests")

    @hookimpl
    def register_presets(self, register):
        register("toy", "small", {"model": {"width": 2}, "trainer": {"max_steps": 3}}, description="tiny")


def toy_items(n: int = 4, size: int = 8, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(n):
        a = torch.rand(3, size, size, generator=g) * 2 - 1
        items.append({"A": a, "B": a.flip(-1) * 0.5, "A_path": f"a{i}.png"})
    return items
