"""pix2pixHD as one exportable module: the label encoding (one-hot, instance edges) inside the graph."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import nn

from i2i_core import ConfigError, ExportGraph

from .inputs import encode_input

if TYPE_CHECKING:
    from .recipe import Pix2PixHDConfig

#: instance ids of the tracing examples: any small range gives edges
_EXAMPLE_INSTANCES = 4


class EncodedGenerator(nn.Module):
    """``G(encode_input(label, inst))``: what ``translate`` computes for a model without features.

    Args:
        generator: a copy of the recipe's ``G``.
        label_nc: classes (0: the label is an image used as it is).
        with_instance: whether ``forward`` takes the instance map (its edge map is appended).
    """

    def __init__(self, generator: nn.Module, label_nc: int, with_instance: bool) -> None:
        super().__init__()
        self.net = generator
        self.label_nc = label_nc
        self.with_instance = with_instance

    def forward(self, label: torch.Tensor, inst: torch.Tensor | None = None) -> torch.Tensor:
        batch: dict[str, torch.Tensor] = {"label": label}
        if inst is not None:
            batch["inst"] = inst
        return self.net(encode_input(batch, self.label_nc, not self.with_instance))


def export_graph(generator: nn.Module, config: Pix2PixHDConfig, side: int) -> ExportGraph:
    """The exportable pix2pixHD generator and its tracing examples (batch 2, ``side`` x ``side``).

    Inputs: ``label`` (class ids) or, with ``label_nc`` 0, ``image`` (in [-1, 1]); then ``inst``
    unless ``no_instance``.

    Raises:
        ConfigError: the model adds encoded features (``instance_feat``/``label_feat``).
    """
    c = config
    if c.instance_feat or c.label_feat:
        raise ConfigError("export of a pix2pixHD model with instance_feat/label_feat is not supported: its "
                          "features are sampled from clusters at run time; export a model trained without them")
    label_nc, with_instance = c.label_nc, not c.no_instance
    module = EncodedGenerator(copy.deepcopy(generator).cpu(), label_nc, with_instance)
    g = torch.Generator().manual_seed(0)
    if label_nc:
        first = torch.randint(0, label_nc, (2, 1, side, side), generator=g).float()
    else:
        first = torch.rand(2, c.input_nc, side, side, generator=g, dtype=torch.float32).mul(2).sub(1)
    inputs: tuple[torch.Tensor, ...] = (first,)
    names: tuple[str, ...] = ("label" if label_nc else "image",)
    if with_instance:
        inputs += (torch.randint(0, _EXAMPLE_INSTANCES, (2, 1, side, side), generator=g).float(),)
        names += ("inst",)
    # label_nc: the key files exported before the inference contract carried; readers may look for it
    return ExportGraph(module, inputs, names, metadata={"label_nc": label_nc})
