"""Tiny runs for the inference tests: a recipe built with random weights, saved as a run folder."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from i2i_core import Engine
from i2i_core.io import checkpoint as ckpt


def make_run(engine: Engine, folder: Path, recipe: str, overrides: list[str], *, training_nets: bool = False,
             perturb: bool = True) -> Path:
    """Write ``folder/checkpoints/latest.safetensors`` + ``config.json`` for ``recipe`` with ``overrides``.

    ``perturb`` moves BatchNorm running statistics away from 0/1 so that eval-mode results are not trivial.
    """
    run = engine.resolve_config(recipe, overrides=overrides)
    built = engine.build_recipe(run, device="cpu", training=training_nets)
    if perturb:
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for net in built.nets.values():
                for m in net.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):
                        m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                        m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    config = run.model_dump(mode="json")
    folder.mkdir(parents=True, exist_ok=True)
    ckpt.save_weights(folder / "checkpoints" / "latest.safetensors", built.nets, config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder
