"""Loading checkpoints for inference (the translation itself is :mod:`i2i_core.translator`) and conversion
of official checkpoints into i2i runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .config import RunConfig, deep_merge, parse_set
from .engine import Engine
from .errors import CheckpointError
from .precision import resolve_device
from .recipe import Recipe


def load_for_inference(engine: Engine, weights: Path, overrides: list[str], device: str = "auto") -> tuple[Recipe, RunConfig]:
    """Rebuild the recipe from the config stored in ``weights`` and load the networks it needs."""
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
    nets, _, _ = ckpt.load_weights(weights, nets=sorted(set(needed) | set(recipe.nets)))
    missing = [n for n in needed if n not in nets]
    if missing:
        held = sorted({name.partition("/")[0] for name in ckpt.tensor_names(weights)})
        raise CheckpointError(f"{weights}: has no weights for {', '.join(missing)} (it holds {', '.join(held)}); "
                              f"a {run.recipe} translation with these settings needs {', '.join(needed)}")
    ckpt.load_into({n: recipe.nets[n] for n in nets if n in recipe.nets}, nets, weights)
    recipe.run_dir = weights.parent.parent if weights.parent.name == "checkpoints" else weights.parent
    return recipe, run


def import_official(engine: Engine, source: str, arch: str | None, files: list[Path], out: Path,
                    overrides: list[str] | None = None) -> Path:
    """Convert official checkpoint files into ``OUT/checkpoints/latest.safetensors`` + ``OUT/config.json``."""
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
    path = ckpt.save_weights(out / "checkpoints" / "latest.safetensors",
                             {n: recipe.nets[n] for n in imported.nets}, config)
    ckpt.atomic_write_text(out / "config.json", json.dumps(config, indent=2))
    return path
