"""Loading checkpoints for inference (the translation itself is :mod:`i2i_core.translator`) and conversion
of official checkpoints into i2i runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .config import RunConfig, deep_merge, parse_set
from .ema import PREFIX as EMA_PREFIX
from .engine import Engine
from .errors import CheckpointError
from .precision import resolve_device
from .recipe import Recipe


def load_for_inference(engine: Engine, weights: Path, overrides: list[str], device: str = "auto",
                       ema: bool = True) -> tuple[Recipe, RunConfig]:
    """Rebuild the recipe from the config stored in ``weights`` and load the networks it needs.

    With ``ema`` (the default) a network whose averaged copy ``ema.<net>`` the file holds
    (``trainer.ema_decay``) gets the average; ``ema=False`` (``--no-ema``) loads the last weights.
    """
    config = json.loads(ckpt.weights_header(weights).get("config", "null") or "null")
    if not isinstance(config, dict):
        raise CheckpointError(f"{weights} is a safetensors file but not an i2i checkpoint (no i2i config in its header)")
    if overrides:
        config = deep_merge(config, parse_set(overrides))
    engine.recipe_class(config.get("recipe", ""))  # clear error for a recipe whose plugin is missing
    run = engine.validate(config)
    dev = resolve_device(device)
    recipe = engine.build_recipe(run, device=dev, training=False)
    needed = recipe.inference_nets()
    # memory-mapped, only the networks the inference build made (a training run's discriminators are never read)
    wanted = set(needed) | set(recipe.nets)
    nets, _, _ = ckpt.load_weights(weights, nets=sorted(wanted | ({EMA_PREFIX + n for n in wanted} if ema else set())))
    for name in wanted:
        if EMA_PREFIX + name in nets:
            nets[name] = nets.pop(EMA_PREFIX + name)
    missing = [n for n in needed if n not in nets]
    if missing:
        held = sorted({name.partition("/")[0] for name in ckpt.tensor_names(weights)})
        raise CheckpointError(f"{weights}: has no weights for {', '.join(missing)} (it holds {', '.join(held)}); "
                              f"a {run.recipe} translation with these settings needs {', '.join(needed)}")
    ckpt.load_into({n: recipe.nets[n] for n in nets if n in recipe.nets}, nets, weights)
    recipe.run_dir = ckpt.run_folder_of(weights)
    return recipe, run


def import_official(engine: Engine, source: str, arch: str | None, files: list[Path], out: Path,
                    overrides: list[str] | None = None) -> Path:
    """Convert official checkpoint files into ``OUT/checkpoints/step_0000000/model.safetensors`` (named by
    ``OUT/checkpoints/latest.json``) + ``OUT/config.json``."""
    importer = engine.registries.importers.get(source)
    target = files[0] if len(files) == 1 else files
    imported: ckpt.ImportedWeights = importer(target, arch)
    nested: dict[str, Any] = {"model": imported.model, "data": imported.data}
    if overrides:
        nested = deep_merge(nested, parse_set(overrides))
    run = engine.resolve_config(imported.recipe, overrides=nested)
    recipe = engine.build_recipe(run, device="cpu", training=True)  # every network, discriminators included
    unknown = sorted(set(imported.nets) - set(recipe.nets))
    if unknown:
        raise CheckpointError(f"{', '.join(map(str, files))}: networks {unknown} do not belong to a {run.recipe} run")
    ckpt.load_into({n: recipe.nets[n] for n in imported.nets}, imported.nets, ", ".join(map(str, files)))
    config = run.model_dump()
    nets = {n: recipe.nets[n] for n in imported.nets}
    # the same atomic layout as a trained run (step 0, weights only): translate/eval/--init-from read it alike
    ref = ckpt.commit_checkpoint(out / "checkpoints", 0, lambda p: ckpt.save_weights(p, nets, config), None)
    ckpt.atomic_write_text(out / "config.json", json.dumps(config, indent=2))
    return ref.weights
