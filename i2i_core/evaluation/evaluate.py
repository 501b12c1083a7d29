"""Held-out scoring: FID/KID/LPIPS/PSNR/SSIM of a recipe's translations, next to the identity baseline.

:func:`evaluate` is what ``i2i eval``, the end of ``i2i run`` and the trainer's periodic
evaluation call. It never changes training state: the RNG is forked, network buffers (BN
statistics) are restored, no gradient is taken and the networks' train/eval mode is the
recipe's business (``translate`` already restores it).

What is compared comes from the recipe:

* ``recipe.evaluation_pairs(batch)`` (optional) -> ``{direction: (prediction, target, identity)}``
  for recipes that translate both ways (CycleGAN: ``AtoB`` and ``BtoA``, each against the other
  domain's held-out images);
* else ``recipe.evaluation_pair(batch)`` -> ``(prediction, target, identity_or_None)``.

Paired metrics (PSNR, SSIM, LPIPS) average per-image scores; FID and KID compare the set of
predictions with the set of targets. The identity baseline scores the input itself in place of
the prediction (only when the input is an image of the target's shape).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Subset

from i2i_core.evaluation import metrics as M
from i2i_core.io.data import seeded_keys, to_device
from i2i_core.io.report import metrics_json, save_grid
from i2i_core.recipe.contract import Recipe


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


class Scores(dict):
    """``dict[str, float]`` of scores plus ``notes``: why a score is missing (NaN) or what it means.

    Keys: each requested metric (``fid``, ``kid``, ``lpips``, ``psnr``, ``ssim``), ``kid_std``,
    ``baseline_<metric>`` when the recipe gives an identity baseline, per-direction
    ``<metric>_<direction>`` (and ``baseline_<metric>_<direction>``) for two-way recipes, where
    the plain key is the mean over directions, and ``images`` (held-out items scored) and
    ``seconds`` (wall time of the evaluation).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: dict[str, str] = {}

    def to_json(self) -> str:
        """Valid JSON: NaN/inf become ``null`` and ``notes`` says why (:func:`i2i_core.io.report.metrics_json`)."""
        return metrics_json(self)


def _pairs(recipe: Recipe, batch: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    if hasattr(recipe, "evaluation_pairs"):
        return dict(recipe.evaluation_pairs(batch))
    return {"": recipe.evaluation_pair(batch)}


class _Accumulator:
    """Per-direction running sums of paired scores and collected Inception features."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0
        self.feats: dict[str, list[torch.Tensor]] = {"fake": [], "real": [], "ident": []}

    def add(self, name: str, values: torch.Tensor) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + float(values.double().sum())

    def score(self, names: Sequence[str], pred: torch.Tensor, target: torch.Tensor, ident: torch.Tensor | None,
              lpips_net: torch.nn.Module | None, inception: torch.nn.Module | None, real_cached: bool) -> None:
        """Add one batch: paired scores summed, Inception features kept for the set metrics."""
        pred, target = pred.float(), target.float()
        ident = ident.float() if ident is not None and ident.shape == target.shape else None
        self.count += pred.shape[0]
        for name, fn in (("psnr", M.psnr), ("ssim", M.ssim)):
            if name in names:
                self.add(name, fn(pred, target))
                if ident is not None:
                    self.add(f"baseline_{name}", fn(ident, target))
        if lpips_net is not None:
            self.add("lpips", M.lpips(lpips_net, pred, target))
            if ident is not None:
                self.add("baseline_lpips", M.lpips(lpips_net, ident, target))
        if inception is not None:
            self.feats["fake"].append(inception(M.to_uint8_rgb(pred)).double().cpu())
            if not real_cached:
                self.feats["real"].append(inception(M.to_uint8_rgb(target)).double().cpu())
            if ident is not None:
                self.feats["ident"].append(inception(M.to_uint8_rgb(ident)).double().cpu())


def evaluate(recipe: Recipe, dataset: Any, device: torch.device | str, *, metrics: Sequence[str] | str | None = None,
             max_images: int = 50, batch_size: int = 1, out_dir: str | Path | None = None, autocast: Any = None,
             grid_rows: int = 8, inception_weights: str | Path | None = None, lpips_weights: str | Path | None = None,
             cache: dict | None = None, kid_subsets: int = 100, kid_subset_size: int = 1000) -> Scores:
    """Score the recipe's translations of up to ``max_images`` held-out items.

    Args:
        recipe: a built recipe (networks on ``device``).
        dataset: the held-out reader (items with the target image, e.g. ``A`` and ``B``).
        device: where the recipe's networks are.
        metrics: names from :data:`i2i_core.evaluation.metrics.METRICS` (default ``["psnr", "ssim"]``).
        max_images: score at most this many items (the first ones, fixed augmentation seed).
        batch_size: items per forward pass.
        out_dir: when set, ``OUT/eval/heldout.png`` gets a labelled grid of the first items.
        autocast: context manager to run the networks under (the trainer's precision).
        grid_rows: rows of that grid.
        inception_weights: torch-fidelity InceptionV3 file for FID/KID (default ``$I2I_WEIGHTS_DIR``).
        lpips_weights: torchvision AlexNet file for LPIPS (default ``$I2I_WEIGHTS_DIR``).
        cache: a dict kept by the caller between calls (e.g. the trainer's periodic evaluation):
            the targets' Inception features are computed once per data set and reused.
        kid_subsets: KID subsets drawn.
        kid_subset_size: KID subset size (capped at the number of images).

    Returns:
        :class:`Scores`, a ``dict[str, float]`` (see its docstring for the keys).

    Example:
        >>> scores = evaluate(recipe, held_out, torch.device("cpu"), metrics=["psnr", "fid"])  # doctest: +SKIP
        >>> scores["fid"], scores["baseline_psnr"]  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    names = M.parse_metrics(metrics)
    if max_images < 1:
        raise M.MetricError(f"max_images must be at least 1, got {max_images}")
    device = torch.device(device)
    files = M.require_weights(names, inception_weights, lpips_weights)  # fail before any forward pass
    inception = M.inception_features(files["inception"], device) if "inception" in files else None
    lpips_net = M.lpips_network(files["lpips"], device) if "lpips" in files else None
    items = FixedKeys(dataset)
    n_items = min(max_images, len(items))
    if n_items == 0:
        raise M.MetricError("the held-out data set is empty: nothing to evaluate")
    loader = DataLoader(Subset(items, range(n_items)), batch_size=batch_size, shuffle=False)
    cache_key = ("real_features", id(dataset), n_items, str(files.get("inception")))
    cached_real = cache.get(cache_key) if cache is not None else None
    acc: dict[str, _Accumulator] = {}
    rows: dict[str, list[torch.Tensor]] = {}
    shown = 0
    with side_effect_free(recipe.nets, device), (autocast or contextlib.nullcontext()):
        for batch in loader:
            batch = to_device(batch, device)
            try:
                pairs = _pairs(recipe, batch)
            except KeyError as exc:
                raise M.MetricError(f"held-out items lack {exc} (keys: {', '.join(sorted(batch))}); "
                                    "evaluation needs each input's target image") from None
            for direction, (pred, target, ident) in pairs.items():
                # the recipe ran under the trainer's precision; the metrics' networks run in fp32, as published
                with torch.autocast(device.type, enabled=False) if autocast else contextlib.nullcontext():
                    acc.setdefault(direction, _Accumulator()).score(
                        names, pred, target, ident, lpips_net, inception, real_cached=cached_real is not None)
            if out_dir is not None and shown < grid_rows:
                visuals = recipe.sample(batch)
                for k, v in visuals.items():
                    rows.setdefault(k, []).append(v.float().cpu())
                shown += next(iter(visuals.values())).shape[0]
    if out_dir is not None and rows:
        save_grid({k: torch.cat(v)[:grid_rows] for k, v in rows.items()}, Path(out_dir) / "eval" / "heldout.png")
    scores = Scores()
    real_feats = dict(cached_real) if cached_real is not None else {}
    for direction, a in acc.items():
        suffix = f"_{direction}" if direction else ""
        for k, total in a.sums.items():
            scores[f"{k}{suffix}"] = total / max(1, a.count)
        if inception is not None:
            real = real_feats.get(direction)
            if real is None:
                real = real_feats[direction] = torch.cat(a.feats["real"])
            fake = torch.cat(a.feats["fake"])
            sets = [("", fake)] + ([("baseline_", torch.cat(a.feats["ident"]))] if a.feats["ident"] else [])
            for prefix, feats in sets:
                if "fid" in names:
                    scores[f"{prefix}fid{suffix}"] = M.fid_from_features(real, feats)
                if "kid" in names:
                    mean, std = M.kid_from_features(real, feats, subsets=kid_subsets, subset_size=kid_subset_size)
                    scores[f"{prefix}kid{suffix}"], scores[f"{prefix}kid_std{suffix}"] = mean, std
            if fake.shape[0] < 2:
                for key in ("fid", "kid", "kid_std"):
                    if f"{key}{suffix}" in scores:
                        scores.notes[f"{key}{suffix}"] = f"needs at least 2 held-out images, got {fake.shape[0]}"
    if cache is not None and inception is not None:
        cache[cache_key] = real_feats
    if len(acc) > 1:  # two-way recipes: the plain key is the mean over directions (what best_metric reads)
        for key in sorted({k.rsplit("_", 1)[0] for k in scores if k.rsplit("_", 1)[-1] in acc}):
            values = [scores[f"{key}_{d}"] for d in acc if f"{key}_{d}" in scores]
            scores[key] = sum(values) / len(values)
    scores["images"] = float(n_items)
    scores["seconds"] = round(time.perf_counter() - t0, 3)
    if "fid" in names or "kid" in names:
        scores.notes.setdefault("fid", f"InceptionV3 features of {n_items} images from {files['inception'].name}; "
                                       "FID is biased upwards on small sets, compare runs at equal image counts")
    return scores

