"""Instance-feature clustering for multimodal synthesis (pix2pixHD's ``encode_features.py``).

After training a ``*_feat`` run, the encoder E summarises every instance of the
training set by its pooled feature vector; k-means per class then keeps
``n_clusters`` representative vectors. At inference the recipe paints each instance
with one of its class's centres (``model.feat_cluster``), so one label map can give
several differently styled images.

Rows are ``[feature (feat_num), area]`` where ``area = pixels / (H * W // 32)``; as in
pix2pixHD only instances with ``area > 0.5`` (larger than 1/64 of the image) are clustered.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import torch

from i2i_core import ConfigError, find_weights, first_line, load_for_inference

from .recipe import CLUSTERS_FILE

if TYPE_CHECKING:
    from i2i_core import Engine

AREA_BLOCKS = 32  # pix2pixHD's block_num: the area column is pixels / (H * W // 32)
MIN_AREA = 0.5


def _items(dataset: Any, max_images: int | None) -> Iterable[dict]:
    """Items with fixed augmentation keys ((i, 0) for seeded readers), as evaluation does."""
    n = len(dataset) if max_images is None else min(len(dataset), max_images)
    seeded = bool(getattr(dataset, "seeded_items", False))
    for i in range(n):
        yield dataset[(i, 0)] if seeded else dataset[i]


def _batched(item: dict, device: torch.device) -> dict:
    return {k: (v.unsqueeze(0).to(device) if isinstance(v, torch.Tensor) else [v]) for k, v in item.items()}


@torch.no_grad()
def encode_features(recipe: Any, dataset: Any, max_images: int | None = None) -> dict[int, torch.Tensor]:
    """Per-instance mean features of a dataset under the recipe's encoder E.

    Args:
        recipe: a built :class:`~i2i_pix2pixhd.recipe.Pix2PixHDRecipe` with ``nets["E"]``.
        dataset: items with ``image`` and ``inst`` (or ``label`` with ``label_feat``).
        max_images: encode at most this many items.

    Returns:
        ``{class_id: (n, feat_num + 1) float64 tensor}`` for every class
        ``0 .. label_nc - 1`` (and any class id met beyond that); each row is one
        instance's feature vector followed by its area ratio.

    Raises:
        ConfigError: the recipe has no encoder.
    """
    if "E" not in recipe.nets:
        raise ConfigError("this pix2pixhd run has no feature encoder E (it was trained without "
                          "model.instance_feat/label_feat); feature clustering needs a *_feat run")
    net_e = recipe.nets["E"]
    device = next(net_e.parameters()).device
    feat_num = recipe.config.feat_num
    rows: dict[int, list[torch.Tensor]] = {c: [] for c in range(recipe.config.label_nc)}
    for item in _items(dataset, max_images):
        batch = _batched(item, device)
        ids = recipe._feature_map_ids(batch)
        feat = net_e(batch["image"], ids)
        h, w = ids.shape[-2:]
        per_block = max(1, h * w // AREA_BLOCKS)
        flat_ids = ids[0, 0].reshape(-1)
        flat_feat = feat[0].reshape(feat_num, -1)
        for value in torch.unique(flat_ids).tolist():
            mask = flat_ids == value
            count = int(mask.sum())
            # every pixel of an instance holds the same pooled vector: take the first
            vec = flat_feat[:, mask.nonzero()[0, 0]].double().cpu()
            row = torch.cat([vec, torch.tensor([count / per_block], dtype=torch.float64)])
            cls = int(value) if value < 1000 else int(value) // 1000
            rows.setdefault(cls, []).append(row)
    return {c: (torch.stack(r) if r else torch.zeros(0, feat_num + 1, dtype=torch.float64))
            for c, r in rows.items()}


def kmeans(points: torch.Tensor, k: int, *, seed: int = 0, iters: int = 100, n_init: int = 4) -> torch.Tensor:
    """Deterministic k-means (k-means++ seeding, Lloyd iterations, best of ``n_init``).

    Args:
        points: (n, d) data.
        k: clusters; with ``n <= k`` the points themselves are returned.
        seed: seed of the private generator (results do not touch the global RNG).
        iters: maximum Lloyd iterations per run.
        n_init: restarts; the one with the lowest inertia wins.

    Returns:
        (min(k, n), d) centres, same dtype as ``points``.
    """
    x = points.double()
    n = x.shape[0]
    if n <= k:
        return points.clone()
    gen = torch.Generator().manual_seed(seed)
    best: torch.Tensor | None = None
    best_inertia = float("inf")
    for _ in range(n_init):
        first = int(torch.randint(n, (1,), generator=gen))
        centres = x[first : first + 1]
        for _ in range(1, k):
            d2 = torch.cdist(x, centres).min(dim=1).values ** 2
            probs = d2 / d2.sum() if float(d2.sum()) > 0 else torch.full_like(d2, 1.0 / n)
            nxt = int(torch.multinomial(probs, 1, generator=gen))
            centres = torch.cat([centres, x[nxt : nxt + 1]])
        for _ in range(iters):
            assign = torch.cdist(x, centres).argmin(dim=1)
            new = centres.clone()
            for j in range(k):
                members = x[assign == j]
                if len(members):  # an emptied cluster keeps its old centre
                    new[j] = members.mean(dim=0)
            moved = float((new - centres).abs().max())
            centres = new
            if moved < 1e-10:
                break
        inertia = float((torch.cdist(x, centres).min(dim=1).values ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = centres, inertia
    if best is None:  # n_init < 1, or NaN points (no restart beats an infinite inertia)
        raise ValueError(f"kmeans found no clustering of {n} points (n_init={n_init}; NaN in the points?)")
    return best.to(points.dtype)


def cluster_features(features: dict[int, torch.Tensor], n_clusters: int = 10, seed: int = 0,
                     min_area: float = MIN_AREA) -> dict[int, torch.Tensor]:
    """k-means per class over the rows whose area column exceeds ``min_area``.

    Returns:
        ``{class_id: (<= n_clusters, feat_num) float32 centres}``; classes without
        large enough instances are left out.
    """
    centres = {}
    for cls, rows in sorted(features.items()):
        big = rows[rows[:, -1] > min_area, :-1] if len(rows) else rows[:, :-1]
        if len(big):
            centres[int(cls)] = kmeans(big, n_clusters, seed=seed).float()
    return centres


def save_clusters(centres: dict[int, torch.Tensor], path: str | Path, feat_num: int, n_clusters: int) -> Path:
    """Write ``features_clustered.pt`` (loadable with ``weights_only=True``)."""
    from i2i_core import save_state

    return save_state(path, {"format": "i2i-pix2pixhd-clusters", "feat_num": feat_num, "n_clusters": n_clusters,
                             "centres": {int(c): t.cpu() for c, t in centres.items()}})


def load_clusters(path: str | Path, feat_num: int | None = None) -> dict[int, torch.Tensor]:
    """Read a file written by :func:`save_clusters` (checking ``feat_num`` when given)."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{path}: cannot read feature clusters ({type(exc).__name__}: {first_line(exc)})") from None
    if not isinstance(data, dict) or "centres" not in data:
        raise ConfigError(f"{path}: not a pix2pixhd features_clustered.pt file")
    if feat_num is not None and int(data.get("feat_num", feat_num)) != feat_num:
        raise ConfigError(f"{path}: clusters have feat_num {data['feat_num']}, the model uses {feat_num}")
    return {int(c): t for c, t in data["centres"].items()}


def encode_and_cluster(engine: Engine, run_dir: str | Path, *, split: str = "train", n_clusters: int | None = None,
                       max_images: int | None = None, device: str = "cpu", seed: int = 0,
                       out: str | Path | None = None) -> Path:
    """Encode a run's training set with its E, cluster per class, save beside the run.

    Args:
        engine: the caller's engine (the CLI's one): it rebuilds the run and its data reader.
        run_dir: a pix2pixhd run folder (or its ``.safetensors`` weights).
        split: the data split to encode.
        n_clusters: clusters per class (default ``model.n_clusters``).
        max_images: encode at most this many items.
        device: where E runs.
        seed: k-means seed.
        out: the file to write instead of ``RUN/features_clustered.pt``.

    Returns:
        The written ``RUN/features_clustered.pt`` (or ``out``).

    Raises:
        ConfigError: the run has no encoder E.
    """
    run_dir = Path(run_dir)
    recipe, run = load_for_inference(engine, find_weights(run_dir), [], device)
    if "E" not in recipe.nets:
        raise ConfigError(f"{run_dir}: this pix2pixhd run has no feature encoder E (trained without "
                          "model.instance_feat/label_feat); encode-features needs a *_feat run")
    data_cfg = run.data.model_copy(update={"no_flip": True})
    dataset = engine.registries.datasets.build(data_cfg.dataset, data_cfg, split)
    features = encode_features(recipe, dataset, max_images=max_images)
    k = n_clusters or recipe.config.n_clusters
    centres = cluster_features(features, k, seed=seed)
    target = Path(out) if out else run_dir / CLUSTERS_FILE
    return save_clusters(centres, target, recipe.config.feat_num, k)
