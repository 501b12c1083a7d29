"""Using saved runs: loading a checkpoint for inference (the translation itself is
:mod:`i2i_core.inference.translator`), scoring it (``i2i eval``), and converting official checkpoints into i2i runs.

Assembly layer: the engine is handed in by the caller (the CLI's one Engine, a Translator's).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from i2i_core.base.errors import CheckpointError
from i2i_core.config.schema import RunConfig, deep_merge, parse_set
from i2i_core.evaluation import metrics as M
from i2i_core.evaluation.evaluate import Scores, evaluate
from i2i_core.io import checkpoint as ckpt
from i2i_core.io.report import default_sections, write_index, write_metrics_json
from i2i_core.recipe.contract import Recipe
from i2i_core.training.ema import PREFIX as EMA_PREFIX
from i2i_core.training.precision import resolve_device

if TYPE_CHECKING:
    from i2i_core.assembly.engine import Engine


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


def load_run(engine: Engine, run_dir: str | Path, device: str = "auto") -> tuple[RunConfig, Recipe]:
    """Rebuild a trained run for inference: ``(RunConfig, recipe with its weights loaded)``.

    ``run_dir`` is a run folder, ``RUN@best`` or a weights file; the recipe gets ``recipe.run_dir``
    so that files written beside the run (pix2pixHD's feature clusters) are found.
    """
    weights = ckpt.find_weights(run_dir)
    recipe, run = load_for_inference(engine, weights, [], device)
    folder = Path(run_dir)
    recipe.run_dir = folder if folder.is_dir() else ckpt.run_folder_of(weights)
    return run, recipe


IMPORT_PHASES = ("read the official files", "build the networks", "load the weights", "write the run folder")


def import_official(engine: Engine, source: str, arch: str | None, files: list[Path], out: Path,
                    overrides: list[str] | None = None, on_phase: Callable[[str], None] | None = None) -> Path:
    """Convert official checkpoint files into ``OUT/checkpoints/step_0000000/model.safetensors`` (named by
    ``OUT/checkpoints/latest.json``) + ``OUT/config.json``."""
    phase = on_phase or (lambda name: None)
    importer = engine.registries.importers.get(source)
    phase(IMPORT_PHASES[0])
    target = files[0] if len(files) == 1 else files
    imported: ckpt.ImportedWeights = importer(target, arch)
    nested: dict[str, Any] = {"model": imported.model, "data": imported.data}
    if overrides:
        nested = deep_merge(nested, parse_set(overrides))
    run = engine.resolve_config(imported.recipe, overrides=nested)
    phase(IMPORT_PHASES[1])
    recipe = engine.build_recipe(run, device="cpu", training=True)  # every network, discriminators included
    unknown = sorted(set(imported.nets) - set(recipe.nets))
    if unknown:
        raise CheckpointError(f"{', '.join(map(str, files))}: networks {unknown} do not belong to a {run.recipe} run")
    phase(IMPORT_PHASES[2])
    ckpt.load_into({n: recipe.nets[n] for n in imported.nets}, imported.nets, ", ".join(map(str, files)))
    phase(IMPORT_PHASES[3])
    config = run.model_dump()
    nets = {n: recipe.nets[n] for n in imported.nets}
    # the same atomic layout as a trained run (step 0, weights only): translate/eval/--init-from read it alike
    ref = ckpt.commit_checkpoint(out / "checkpoints", 0, lambda p: ckpt.save_weights(p, nets, config), None)
    ckpt.atomic_write_text(out / "config.json", json.dumps(config, indent=2))
    return ref.weights


def evaluate_checkpoint(engine: Engine, checkpoint: str | Path, *, data_root: str | Path | None = None,
                        split: str | None = None, metrics: Sequence[str] | str | None = None,
                        max_images: int | None = None, batch_size: int = 1, device: str = "auto",
                        overrides: Sequence[str] = (), inception_weights: str | Path | None = None,
                        lpips_weights: str | Path | None = None, out_dir: str | Path | None = None,
                        write: bool = True, ema: bool = True) -> tuple[Scores, Path | None]:
    """``i2i eval``: score a run folder or weights file on its held-out split (or ``data_root``).

    The recipe, reader and preprocessing come from the config stored with the weights, so the
    scores match the ones written at the end of training. With ``write``, results go to
    ``OUT/metrics.json`` (merged over earlier scores), ``OUT/eval/heldout.png`` and, for a run
    folder, its refreshed ``index.html``; ``OUT`` defaults to the run folder.

    Returns:
        ``(scores, folder written or None)``.
    """
    names = M.parse_metrics(metrics)
    M.require_weights(names, inception_weights, lpips_weights)  # a missing file fails before loading anything
    weights = ckpt.find_weights(checkpoint)
    sets = list(overrides)
    if data_root is not None:
        if not Path(data_root).is_dir():
            raise M.MetricError(f"--data {data_root}: no such folder (expected a data root in the run's layout)")
        sets += [f"data.root={Path(data_root).resolve()}", "data.synthetic=null"]
    recipe, run = load_for_inference(engine, weights, sets, device, ema=ema)
    split = split or run.data.test_split
    dataset = engine.registries.datasets.build(run.data.dataset, run.data, split)
    recipe.configure_dataset(dataset, split)
    # the run folder is the parent of the nearest "checkpoints" folder above the weights (any layout)
    run_dir = next((p.parent for p in weights.resolve().parents if p.name == "checkpoints"), None)
    folder = Path(out_dir) if out_dir is not None else run_dir
    dev = next((p.device for net in recipe.nets.values() for p in net.parameters()), torch.device("cpu"))
    scores = evaluate(recipe, dataset, dev, metrics=names, max_images=max_images or run.trainer.eval_max_images,
                      batch_size=batch_size, out_dir=folder if write else None,
                      inception_weights=inception_weights, lpips_weights=lpips_weights)
    if not write or folder is None:
        return scores, None
    folder.mkdir(parents=True, exist_ok=True)
    merged: dict[str, Any] = {}
    previous = folder / "metrics.json"
    if previous.is_file():
        try:
            merged = json.loads(previous.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            merged = {}
    notes = {**(merged.pop("notes", None) or {}), **scores.notes}
    merged.update(scores)
    out = Scores(merged)
    out.notes = notes
    write_metrics_json(previous, out)
    if folder == run_dir:
        write_index(folder, f"i2i run: {run.recipe}", default_sections(folder), out,
                    command=None if (folder / "command.txt").is_file() else f"i2i eval {checkpoint}")
    return scores, folder
