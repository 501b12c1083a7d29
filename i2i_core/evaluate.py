"""Held-out scoring: PSNR/SSIM of the recipe's translations next to the identity baseline."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Subset

from .data import seeded_keys, to_device
from .metrics import psnr, ssim
from .recipe import Recipe
from .report import save_grid


@contextlib.contextmanager
def side_effect_free(nets: dict[str, torch.nn.Module], device: torch.device) -> Iterator[None]:
    """Run inference without touching training: RNG forked, buffers (BN stats) restored, no grad."""
    saved = {n: {k: b.clone() for k, b in net.named_buffers()} for n, net in nets.items()}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
        try:
            yield
        finally:
            for n, net in nets.items():
                for k, b in net.named_buffers():
                    b.copy_(saved[n][k])


class FixedKeys(torch.utils.data.Dataset):
    """Fixed ``(index, 0)`` keys for readers that take seeded keys (deterministic eval)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[(i, 0)] if seeded_keys(self.dataset) else self.dataset[i]


def evaluate(recipe: Recipe, dataset: Any, device: torch.device, *, max_images: int = 50, batch_size: int = 1,
             out_dir: str | Path | None = None, autocast: Any = None, grid_rows: int = 8) -> dict[str, float]:
    """Score ``recipe.evaluation_pair`` over up to ``max_images`` held-out items.

    Returns:
        ``{"psnr", "ssim", "baseline_psnr", "baseline_ssim", "images"}`` (baselines only
        when the recipe gives one).
    """
    items = FixedKeys(dataset)
    subset = Subset(items, range(min(max_images, len(items))))
    loader = DataLoader(subset, batch_size=batch_size, shuffle=False)
    sums: dict[str, float] = {}
    count = 0
    rows: dict[str, list[torch.Tensor]] = {}
    with side_effect_free(recipe.nets, device), (autocast or contextlib.nullcontext()):
        for batch in loader:
            batch = to_device(batch, device)
            pred, target, ident = recipe.evaluation_pair(batch)
            pred, target = pred.float(), target.float()
            scores = {"psnr": psnr(pred, target), "ssim": ssim(pred, target)}
            if ident is not None:
                scores["baseline_psnr"] = psnr(ident.float(), target)
                scores["baseline_ssim"] = ssim(ident.float(), target)
            for k, v in scores.items():
                sums[k] = sums.get(k, 0.0) + float(v.sum())
            count += pred.shape[0]
            if out_dir is not None and sum(t.shape[0] for t in rows.get("output", [])) < grid_rows:
                shown = recipe.sample(batch) if hasattr(recipe, "sample") else {"output": pred}
                for k, v in shown.items():
                    rows.setdefault(k, []).append(v.float().cpu())
    if out_dir is not None and rows:
        save_grid({k: torch.cat(v)[:grid_rows] for k, v in rows.items()}, Path(out_dir) / "eval" / "heldout.png")
    metrics = {k: v / max(1, count) for k, v in sums.items()}
    metrics["images"] = float(count)
    return metrics
