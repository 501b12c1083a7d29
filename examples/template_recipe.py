"""Copy-me template of a recipe (the counterpart of junyanz's template_model.py).

Fill in the four methods; register the class from a plugin with ``register_recipes``
and its presets with ``register_presets``. See ``i2i_core/recipe.py`` for the contract.
"""

from __future__ import annotations

import torch
from pydantic import Field

from i2i_core import BuildContext, Modules, Recipe, RecipeConfig, StepContext, detach_losses


class TemplateConfig(RecipeConfig):
    """The recipe's ``model.*`` options (unknown keys are errors)."""

    netG: str = Field("resnet_6blocks", description="generator from the architectures registry")
    ngf: int = Field(64, gt=0)
    lambda_regression: float = Field(1.0, ge=0, description="weight of the L1 term")


class TemplateRecipe(Recipe):
    name = "template"
    Config = TemplateConfig
    defaults = {"data": {"dataset": "aligned"}}          # reader and other section defaults

    def build(self, ctx: BuildContext) -> Modules:
        g = ctx.architecture(self.config.netG, input_nc=3, output_nc=3, ngf=self.config.ngf)
        return Modules(nets={"G": g}, optimizers={"G": ctx.optimizer(g.parameters())})

    def training_step(self, batch: dict, step: StepContext) -> dict[str, torch.Tensor]:
        fake = self.nets["G"](batch["A"])
        loss = torch.nn.functional.l1_loss(fake, batch["B"]) * self.config.lambda_regression
        step.zero_grad(self.optimizers["G"])
        step.backward(loss)                      # scaled under fp16, plain otherwise
        step.optimizer_step(self.optimizers["G"])
        return detach_losses({"L1": loss})     # read off the device by the trainer, not every step

    def translate(self, batch: dict) -> torch.Tensor:
        return self.nets["G"](batch["A"])
