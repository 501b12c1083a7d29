"""Inference from checkpoints and conversion of official checkpoints into i2i runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from . import checkpoint as ckpt
from .config import RunConfig, deep_merge, parse_set
from .data import to_device
from .engine import Engine
from .errors import CheckpointError
from .evaluate import FixedKeys
from .precision import resolve_device
from .recipe import Recipe
from .report import save_png, to_uint8


def load_for_inference(engine: Engine, weights: Path, overrides: list[str], device: str = "auto") -> tuple[Recipe, RunConfig]:
    """Rebuild the recipe from the config stored in ``weights`` and load the networks it needs."""
    nets, config, _ = ckpt.load_weights(weights)
    if overrides:
        config = deep_merge(config, parse_set(overrides))
    engine.recipe_class(config.get("recipe", ""))  # clear error for a recipe whose plugin is missing
    run = engine.validate(config)
    dev = resolve_device(device)
    recipe = engine.build_recipe(run, device=dev, training=False)
    needed = recipe.inference_nets()
    missing = [n for n in needed if n not in nets]
    if missing:
        raise CheckpointError(f"{weights}: has no weights for {', '.join(missing)} (it holds {', '.join(sorted(nets))}); "
                              f"a {run.recipe} translation with these settings needs {', '.join(needed)}")
    ckpt.load_into({n: recipe.nets[n] for n in nets if n in recipe.nets}, nets, weights)
    recipe.run_dir = weights.parent.parent if weights.parent.name == "checkpoints" else weights.parent
    return recipe, run


def translate_folder(engine: Engine, recipe: Recipe, run: RunConfig, files: list[Path] | Path, scratch: Path,
                     output: Path, batch_size: int = 1) -> list[Path]:
    """Translate through the recipe's inference reader; write ``<stem>.png`` per input.

    ``files`` is a list of images (linked into a scratch folder the reader can read), or a
    data root already in the reader's layout (e.g. ``test_label`` + ``test_inst`` for pix2pixHD).
    """
    split = "test"
    if isinstance(files, Path):
        root = files
    else:
        root = scratch
        folder = scratch / recipe.inference_folder
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:  # the reader takes a folder; links keep the original names without copying
            (folder / f.name).symlink_to(f.resolve())
    data_cfg = run.data.model_copy(update={"root": str(root), "synthetic": None, "serial_batches": True})
    data_cfg.load_size = data_cfg.crop_size  # test-time convention of the references
    dataset = engine.registries.datasets.build(recipe.inference_reader, data_cfg, split)
    recipe.configure_dataset(dataset, split)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    device = next((p.device for n in recipe.nets.values() for p in n.parameters()), torch.device("cpu"))
    loader = DataLoader(FixedKeys(dataset), batch_size=batch_size, shuffle=False)
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device)
            images = to_uint8(recipe.translate(batch))
            paths = batch.get(f"{recipe.inference_input}_path") or batch.get("A_path") or []
            for img, src in zip(images, paths, strict=True):
                written.append(save_png(img, output / f"{Path(src).stem}.png"))
    return written


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
