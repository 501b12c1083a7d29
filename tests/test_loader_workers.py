"""make_loader with worker processes: same batches as in the main process, epoch after epoch."""

from __future__ import annotations

import torch

from i2i_core.io.data import make_loader


class Keys(torch.utils.data.Dataset):
    """Returns its key and a tensor drawn from the key's seed (what i2i's readers do with augmentation)."""

    seeded_items = True

    def __len__(self) -> int:
        return 6

    def __getitem__(self, key):
        index, seed = key
        return {"index": index, "x": torch.rand(2, generator=torch.Generator().manual_seed(seed))}


def _epochs(**kw) -> list[list]:
    loader, sampler = make_loader(Keys(), 2, seed=5, **kw)
    out = []
    for epoch in (1, 2, 3):
        sampler.set_epoch(epoch, start=2 if epoch == 3 else 0)  # epoch 3 resumes mid-epoch
        out.append([(b["index"].tolist(), b["x"]) for b in loader])
    return out


def _same(a, b) -> bool:
    return all(ia == ib and torch.equal(xa, xb) for ea, eb in zip(a, b, strict=True)
               for (ia, xa), (ib, xb) in zip(ea, eb, strict=True))


def test_persistent_workers_keep_the_data_order():
    main = _epochs()
    assert [i for i, _ in main[0]] != [i for i, _ in main[1]] and len(main[2]) == 2
    assert _same(main, _epochs(num_workers=2, persistent_workers=True, prefetch_factor=4))
    assert _same(main, _epochs(num_workers=1))


def test_persistent_and_prefetch_ignored_without_workers():
    loader, _ = make_loader(Keys(), 1, seed=0, persistent_workers=True, prefetch_factor=4)
    assert not loader.persistent_workers and loader.num_workers == 0
    loader, _ = make_loader(Keys(), 1, seed=0, num_workers=1, persistent_workers=True, prefetch_factor=4)
    assert loader.persistent_workers and loader.prefetch_factor == 4


def test_auto_workers_none_on_cpu_and_the_ranks_cores_on_cuda(monkeypatch):
    import pytest

    from i2i_core.config.schema import DataConfig
    from i2i_core.training import profile
    from i2i_core.training.trainer import loader_workers

    assert DataConfig().num_workers == "auto"
    assert loader_workers("auto", torch.device("cpu")) == 0
    monkeypatch.setattr(profile, "cores_per_rank", lambda: 6)
    assert loader_workers("auto", torch.device("cuda", 0)) == 5
    monkeypatch.setattr(profile, "cores_per_rank", lambda: 64)
    assert loader_workers("auto", torch.device("cuda", 0)) == 8
    assert loader_workers(3, torch.device("cpu")) == 3
    for bad in (-1, "many"):
        with pytest.raises(ValueError, match="num_workers"):
            DataConfig(num_workers=bad)
