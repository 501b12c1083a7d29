"""pix2pixHD's inference contract: what it reads, and the module `i2i export` writes for it."""

from __future__ import annotations

import pytest
import torch

from i2i_core import ConfigError, InferenceSpec


def test_spec_of_label_maps_with_instances(make_recipe) -> None:
    recipe = make_recipe(training=False)
    assert recipe.inference_spec() == InferenceSpec(input_kind="label_map", classes=4, output_channels=3,
                                                    instance_map=True, size_multiple=4)


def test_spec_of_label_images_without_instances(make_recipe) -> None:
    recipe = make_recipe(model={"label_nc": 0, "input_nc": 5, "no_instance": True}, training=False)
    spec = recipe.inference_spec()
    assert (spec.input_kind, spec.input_channels, spec.classes, spec.instance_map) == ("image", 5, 0, False)


def test_size_multiple_counts_the_encoder(make_recipe) -> None:
    recipe = make_recipe(model={"instance_feat": True, "n_downsample_E": 3}, training=False)
    assert recipe.inference_spec().size_multiple == 8  # G alone needs 4


def test_exported_module_is_what_translate_computes(make_recipe, label_batch) -> None:
    recipe = make_recipe(training=False)
    graph = recipe.export_graph(recipe.inference_spec(), 16)
    assert graph.input_names == ("label", "inst") and graph.metadata == {"label_nc": 4}
    assert [tuple(x.shape) for x in graph.inputs] == [(2, 1, 16, 16)] * 2
    assert int(graph.inputs[0].max()) < 4
    batch = label_batch(label_nc=4)
    with torch.no_grad():
        got = graph.module(batch["label"], batch["inst"])
    assert torch.equal(got, recipe.translate(batch))
    assert graph.module is not recipe.nets["G"] and next(graph.module.parameters()).device.type == "cpu"


def test_label_images_export_with_their_channels(make_recipe) -> None:
    recipe = make_recipe(model={"label_nc": 0, "no_instance": True}, training=False)
    graph = recipe.export_graph(recipe.inference_spec(), 8)
    assert graph.input_names == ("image",) and tuple(graph.inputs[0].shape) == (2, 3, 8, 8)
    assert graph.inputs[0].min() >= -1 and graph.inputs[0].max() <= 1


@pytest.mark.parametrize("option", ["instance_feat", "label_feat"])
def test_feature_models_refuse_export(make_recipe, option: str) -> None:
    recipe = make_recipe(model={option: True}, training=False)
    with pytest.raises(ConfigError, match="instance_feat/label_feat is not supported"):
        recipe.export_graph(recipe.inference_spec(), 16)
