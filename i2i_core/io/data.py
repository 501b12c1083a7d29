"""Reproducible data order: per-epoch permutations and per-item augmentation seeds.

Every item key is ``(index, seed)`` where both come from ``(run seed, epoch,
position)`` only, so a resumed run sees exactly the batches an uninterrupted run
would have seen, whatever the number of workers.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Sampler, default_collate

from i2i_core.base.errors import DataError
from i2i_core.base.signals import ignore_sigint_in_worker


def _mix(*values: int) -> int:
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = ((h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def seeded_keys(dataset: Any) -> bool:
    """Whether ``dataset`` takes ``(index, seed)`` keys (the readers of i2i do)."""
    return bool(getattr(dataset, "seeded_items", False))


class EpochSampler(Sampler):
    """Yields the keys of one epoch, from position ``start`` on."""

    def __init__(self, n: int, seed: int, shuffle: bool = True, seeded: bool = True, rank: int = 0,
                 world: int = 1) -> None:
        self.n, self.seed, self.shuffle, self.seeded = n, seed, shuffle, seeded
        self.rank, self.world = rank, world
        self.per_rank = -(-n // world)  # every rank gets as many keys (the order wraps around)
        self.epoch, self.start = 1, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def keys(self) -> list:
        if self.shuffle:
            g = torch.Generator().manual_seed(_mix(self.seed, self.epoch))
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        keys = order if not self.seeded else [(i, _mix(self.seed, self.epoch, pos)) for pos, i in enumerate(order)]
        if self.world > 1:
            keys = (keys * self.world)[: self.per_rank * self.world][self.rank :: self.world]
        return keys

    def __iter__(self) -> Iterator:
        return iter(self.keys()[self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start


def make_loader(dataset: Any, batch_size: int, seed: int, *, shuffle: bool = True, num_workers: int = 0,
                pin_memory: bool = False, rank: int = 0, world: int = 1, persistent_workers: bool = False,
                prefetch_factor: int | None = None) -> tuple[DataLoader, EpochSampler]:
    """A DataLoader over ``dataset`` with an :class:`EpochSampler` (call ``set_epoch``).

    ``persistent_workers`` keeps the worker processes between epochs (the sampler is re-read at
    each ``iter``, so the data order is unchanged); both it and ``prefetch_factor`` (batches each
    worker loads ahead, torch's default 2) only apply when ``num_workers > 0``.
    """
    seeded = seeded_keys(dataset)
    sampler = EpochSampler(len(dataset), seed, shuffle=shuffle, seeded=seeded, rank=rank, world=world)
    extra: dict[str, Any] = {"prefetch_factor": prefetch_factor} if num_workers and prefetch_factor else {}
    # its own generator: creating an iterator must not draw from the global RNG (exact resume)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                        pin_memory=pin_memory, persistent_workers=bool(persistent_workers and num_workers),
                        collate_fn=collate_same_size, worker_init_fn=ignore_sigint_in_worker if num_workers else None,
                        generator=torch.Generator().manual_seed(seed), **extra)
    return loader, sampler


def _describe_item(item: dict, key: str) -> str:
    path = item.get(f"{key}_path") or item.get("A_path") or item.get("path")
    return str(path) if path else f"an item (key {key!r})"


def collate_same_size(items: list) -> Any:
    """``default_collate`` that names the two files when images of different sizes meet in one batch.

    With ``preprocess=none`` or ``crop`` nothing makes the images of a data set the same size;
    torch's own message ("stack expects each tensor to be equal size") names neither file.
    """
    first = items[0]
    if isinstance(first, dict):
        for key, value in first.items():
            if not isinstance(value, torch.Tensor) or value.dim() < 2:
                continue
            for other in items[1:]:
                theirs = other.get(key)
                if isinstance(theirs, torch.Tensor) and theirs.shape != value.shape:
                    def size(t: torch.Tensor) -> str:
                        return f"{t.shape[-1]}x{t.shape[-2]}" + (f" with {t.shape[0]} channels" if t.dim() == 3 else "")
                    raise DataError(
                        f"images of different sizes in one batch: {_describe_item(first, key)} is {size(value)}, "
                        f"{_describe_item(other, key)} is {size(theirs)}; use data.batch_size=1 or a preprocess "
                        f"mode that makes them equal (data.preprocess=resize_and_crop or scale_width_and_crop)")
    return default_collate(items)


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        t = batch.to(device, non_blocking=True)
        if channels_last and t.dim() == 4 and t.is_floating_point():
            t = t.contiguous(memory_format=torch.channels_last)
        return t
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, list):
        return [to_device(v, device, channels_last) for v in batch]
    return batch
