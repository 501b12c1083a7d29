"""A recipe's :class:`~i2i_core.recipe.contract.InferenceSpec` with its blanks measured on the network.

The recipe states what only it can know (a label-map input and its classes, an instance map,
batch statistics); channels and the size multiple it leaves ``None`` come from the inference
network itself, so that translate, tiling and export never read a recipe's config.
"""

from __future__ import annotations

import dataclasses

from torch import nn

from i2i_core.inference.tiling import channels, size_multiple
from i2i_core.recipe.contract import InferenceSpec, Recipe


def resolved_spec(recipe: Recipe, net: nn.Module | None = None) -> InferenceSpec:
    """``recipe.inference_spec()`` with ``input_channels``, ``output_channels`` and ``size_multiple``
    filled in from ``net`` (default: the first of ``recipe.inference_nets()``); a label map has one channel."""
    spec = recipe.inference_spec()
    net = net if net is not None else recipe.nets[recipe.inference_nets()[0]]
    input_channels, output_channels = spec.input_channels, spec.output_channels
    if spec.reads_ids and input_channels is None:
        input_channels = 1
    if input_channels is None or output_channels is None:
        measured_in, measured_out = channels(net)
        input_channels = measured_in if input_channels is None else input_channels
        output_channels = measured_out if output_channels is None else output_channels
    multiple = spec.size_multiple if spec.size_multiple is not None else size_multiple(net)
    return dataclasses.replace(spec, input_channels=input_channels, output_channels=output_channels,
                               size_multiple=multiple)
