"""The files a training run writes into its folder besides the checkpoints.

``config.json``, the loss log ``losses.jsonl`` (and ``losses.png``), ``events.jsonl``
(resumes and what they changed), ``eval.jsonl`` (held-out scores during training),
``samples/``, the ``checkpoints/best.json`` pointer and ``index.html``. Only rank 0 of a
distributed job writes; a :class:`RunFolder` without a root (no ``out_dir``, or another
rank) writes nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

import torch

from i2i_core.base.atomic import atomic_write_json, atomic_write_text, finite_json
from i2i_core.config.schema import RunConfig
from i2i_core.io import checkpoint as ckpt
from i2i_core.io.report import append_jsonl, default_sections, plot_losses, read_jsonl, save_grid, write_index


class RunFolder:
    """Writes a run folder's logs, samples and page.

    Args:
        root: the run folder; None: write nothing.
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root

    @property
    def checkpoints(self) -> Path | None:
        return self.root / "checkpoints" if self.root is not None else None

    def open(self, run_config: RunConfig | None, resumed_from: int | None) -> None:
        """Create the folder, save the run config, and drop log rows an interrupted run wrote past its checkpoint."""
        if self.root is None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        if run_config is not None:
            atomic_write_json(self.root / "config.json", run_config.model_dump())
        if resumed_from is not None:
            self._truncate_losses(resumed_from)

    def _truncate_losses(self, step: int) -> None:
        # those steps are trained again: their rows would be in the log twice
        assert self.root is not None
        path = self.root / "losses.jsonl"
        rows = read_jsonl(path)
        kept = [r for r in rows if int(r.get("step", 0)) <= step]
        if len(kept) != len(rows) or (path.is_file() and not path.read_text(encoding="utf-8").endswith("\n")):
            atomic_write_text(path, "".join(json.dumps(finite_json(r), allow_nan=False) + "\n" for r in kept))

    def record_resume(self, source: str | Path, step: int, changes: list[tuple[str, Any, Any]]) -> None:
        """Append the resume and the settings it changed to ``events.jsonl``."""
        if self.root is None:
            return
        event = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "event": "resume", "from": str(source),
                 "step": step, "changes": {k: [a, b] for k, a, b in changes}}
        self.root.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.root / "events.jsonl", finite_json(event))

    def append_losses(self, row: Mapping[str, Any]) -> None:
        if self.root is not None:
            append_jsonl(self.root / "losses.jsonl", finite_json(dict(row)))

    def append_eval(self, step: int, ema: bool, metrics: Mapping[str, float]) -> None:
        if self.root is not None:
            append_jsonl(self.root / "eval.jsonl", finite_json({"step": step, "ema": ema, **metrics}))

    def save_samples(self, step: int, images: Mapping[str, torch.Tensor]) -> None:
        if self.root is not None:
            save_grid(images, self.root / "samples" / f"step_{step:07d}.png")

    def plot_losses(self) -> None:
        if self.root is not None:
            plot_losses(read_jsonl(self.root / "losses.jsonl"), self.root / "losses.png")

    def point_best(self, ref: ckpt.CheckpointFiles, metric: str, score: float) -> None:
        """Make ``checkpoints/best.json`` name ``ref`` with its score."""
        if self.root is not None:
            ckpt.write_pointer(self.root / "checkpoints", "best", ref, extra={"metric": metric, "score": score})

    def write_index(self, title: str, metrics: Mapping[str, Any] | None = None) -> Path | None:
        """Write ``index.html`` from the samples and evaluation images on disk."""
        if self.root is None:
            return None
        return write_index(self.root, title, default_sections(self.root), metrics)
