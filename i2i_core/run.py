"""``Engine.run``: config -> data -> recipe -> training -> held-out scores -> report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from torch.utils.data import default_collate

from . import checkpoint as ckpt
from .config import RunConfig
from .errors import ConfigError, DataError
from .evaluate import FixedKeys, evaluate
from .precision import resolve_device, resolve_precision
from .trainer import Trainer

if TYPE_CHECKING:
    from .engine import Engine


@dataclass
class RunResult:
    """What :meth:`Engine.run` returns: the run folder, final losses and held-out metrics."""

    run_dir: Path
    config: RunConfig
    logs: dict
    metrics: dict


def run(engine: Engine, recipe: str, preset: str | None = None, *, config_file: str | None = None,
         overrides: dict | list[str] | tuple[str, ...] | None = None, out: str | None = None,
         resume: str | None = None, progress: bool | None = None, callbacks: Iterable[object] = ()) -> RunResult:
    """Resolve the config, build data and recipe, train, score the held-out split, write the report.

    Args:
        recipe: registry name of the recipe.
        preset: preset of that recipe.
        config_file: TOML/JSON file merged over the preset.
        overrides: nested dict or ``["a.b=c", ...]`` merged last.
        out: run folder (default ``runs/<recipe>-<preset>``).
        resume: ``"auto"`` (continue ``out`` when it holds a checkpoint) or a run folder / checkpoint.
    """

    out_dir = Path(out) if out else Path("runs") / (f"{recipe}-{preset}" if preset else recipe)
    resume_from: Path | None = None
    if resume == "auto":
        resume_from = out_dir if (out_dir / "checkpoints" / "latest.pt").is_file() else None
    elif resume:
        ckpt.find_resume(resume)  # clear error when there is nothing to resume
        resume_from = Path(resume)
        if not out:
            out_dir = resume_from if resume_from.is_dir() else resume_from.parent.parent
    if resume_from is None and (out_dir / "checkpoints").is_dir() and any((out_dir / "checkpoints").iterdir()):
        raise ConfigError(f"{out_dir} already holds a run; pass --resume auto to continue it or --out to start elsewhere")
    if resume_from is not None:
        saved = out_dir / "config.json"
        base = json.loads(saved.read_text()) if saved.is_file() else None
        if base is not None:
            base = {k: v for k, v in base.items() if k not in ("recipe", "preset")}
        run = engine.resolve_config(recipe, None, config_file, overrides, base=base)
        run.preset = preset or (json.loads(saved.read_text()).get("preset") if saved.is_file() else None)
    else:
        run = engine.resolve_config(recipe, preset, config_file, overrides)
    resolve_precision(run.trainer.precision, resolve_device(run.trainer.device))  # fp16 on CPU etc.: fail first
    rec = engine.build_recipe(run, device="cpu")  # unknown architectures etc. fail before any data is read
    datasets = engine.registries.datasets
    train = datasets.build(run.data.dataset, run.data, "train")
    try:
        held_out = datasets.build(run.data.dataset, run.data, run.data.test_split)
    except DataError:
        held_out = None
    rec.configure_dataset(train, "train")
    if held_out is not None:
        rec.configure_dataset(held_out, run.data.test_split)
    trainer = Trainer(run.trainer, out_dir, engine=engine, callbacks=callbacks, run_config=run, progress=progress)
    sample_src = held_out if held_out is not None else train
    keyed = FixedKeys(sample_src)
    sample_batch = default_collate([keyed[i] for i in range(min(4, len(keyed)))])
    result = trainer.fit(rec, train, resume=resume_from, sample_batch=sample_batch)
    metrics: dict = {}
    if run.trainer.evaluate and held_out is not None:
        metrics = evaluate(rec, held_out, trainer.device, max_images=run.trainer.eval_max_images,
                           out_dir=out_dir, autocast=trainer.precision.autocast())
        ckpt.atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    trainer.write_index(metrics)
    return RunResult(out_dir, run, result.logs, metrics)

