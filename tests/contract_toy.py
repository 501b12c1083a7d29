"""A model the core has never heard of: label maps of 3 classes in, a 2-channel image out.

It goes through the recipe contract only (``inference_spec``, ``export_graph``), so translate and
export serve it without a core change, the point of issue #16.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from i2i_core import ExportGraph, Inference, InferenceSpec, Modules, Recipe, RecipeConfig, hookimpl

CLASSES = 3


class LabelToyConfig(RecipeConfig):
    colours: int = 2


class OneHotGenerator(nn.Module):
    """One-hot ids, then a convolution with one stride-2 layer (size multiple 2)."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(CLASSES, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, out_channels, 4, stride=2, padding=1)

    def forward(self, label: torch.Tensor) -> torch.Tensor:
        one_hot = torch.nn.functional.one_hot(label[:, 0].long(), CLASSES).permute(0, 3, 1, 2).float()
        return torch.tanh(self.up(self.down(one_hot)))


class LabelToyRecipe(Recipe):
    name = "label_toy"
    Config = LabelToyConfig
    inference = Inference(reader="single", folder="test", input="ids")

    def build(self, ctx):
        return Modules(nets={"G": OneHotGenerator(self.config.colours)})

    def training_step(self, batch, step):
        return {}

    def translate(self, batch):
        with torch.no_grad():
            return self.nets["G"](batch["ids"])

    def inference_spec(self) -> InferenceSpec:
        # the generator's first convolution reads the one-hot map: only the recipe knows the input is ids
        return InferenceSpec(input_kind="label_map", classes=CLASSES, output_channels=self.config.colours)

    def export_graph(self, spec: InferenceSpec, side: int) -> ExportGraph:
        ids = torch.randint(0, CLASSES, (2, 1, side, side), generator=torch.Generator().manual_seed(0)).float()
        return ExportGraph(copy.deepcopy(self.nets["G"]).cpu(), (ids,), ("ids",), metadata={"palette": "toy"})


class LabelToyPlugin:
    @hookimpl
    def register_recipes(self, register):
        register("label_toy", LabelToyRecipe, description="label-map toy for the inference contract tests")
