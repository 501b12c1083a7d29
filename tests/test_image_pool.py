"""Image histories: junyanz's ImagePool and the book's ImageBuffer, including state round trips."""

from __future__ import annotations

import io

import pytest
import torch

from i2i_core.errors import CheckpointError
from i2i_cyclegan.book_buffer import ImageBuffer
from i2i_cyclegan.image_pool import ImagePool


def _images(n: int, start: int = 0) -> torch.Tensor:
    # image i is filled with the value i, so outputs can be traced back to their source
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 2, 3, 3).clone()


def _ids(x: torch.Tensor) -> list[int]:
    return [int(v) for v in x[:, 0, 0, 0]]


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_pool_size_zero_passes_through():
    pool = ImagePool(0)
    x = _images(3)
    assert pool.query(x) is x
    assert len(pool) == 0


def test_pool_returns_inputs_until_full_then_swaps_half_the_time():
    pool = ImagePool(4, seed=3)
    assert _ids(pool.query(_images(3))) == [0, 1, 2]
    assert _ids(pool.query(_images(2, start=3))) == [3, 4]  # the 4th image fills it, the 5th is a draw
    assert len(pool) == 4
    seen_old = seen_new = 0
    for k in range(40):
        new = 100 + k
        stored_before = set(_ids(torch.cat(pool.images)))
        out = _ids(pool.query(_images(1, start=new)))[0]
        if out == new:
            seen_new += 1
            assert new not in _ids(torch.cat(pool.images))  # returned as is, not stored
        else:
            seen_old += 1
            assert out in stored_before and new in _ids(torch.cat(pool.images))  # swapped in
    assert seen_old > 5 and seen_new > 5
    assert len(pool) == 4


def test_pool_detaches_and_state_round_trip_continues_the_same_draws():
    pool = ImagePool(3, seed=7)
    x = _images(3).requires_grad_()
    assert not pool.query(x).requires_grad
    for k in range(5):
        pool.query(_images(1, start=10 + k))
    state = _roundtrip(pool.state_dict())  # tensors and lists only: weights_only loads it
    twin = ImagePool(3, seed=999)
    twin.load_state_dict(state)
    for k in range(10):
        a, b = pool.query(_images(2, start=50 + 2 * k)), twin.query(_images(2, start=50 + 2 * k))
        assert torch.equal(a, b)


def test_book_buffer_stores_every_batch_and_can_return_the_current_one():
    buf = ImageBuffer(3, seed=0)
    first = _images(2)
    assert torch.equal(buf.update(first), first)  # one stored batch: whatever the coin, it is this one
    for k in range(2):
        buf.update(_images(2, start=10 * (k + 1)))
    assert len(buf) == 3
    buf.update(_images(2, start=90))  # full: a random slot is overwritten
    assert len(buf) == 3 and 90 in _ids(torch.cat(buf.images))
    outs = [_ids(buf.update(_images(2, start=200 + 10 * k)))[0] for k in range(30)]
    assert any(o == 200 + 10 * k for k, o in enumerate(outs))  # sometimes the current batch
    assert any(o != 200 + 10 * k for k, o in enumerate(outs))  # sometimes a stored one


def test_book_buffer_state_round_trip_and_kind_check():
    buf = ImageBuffer(2, seed=1)
    for k in range(4):
        buf.update(_images(1, start=k))
    twin = ImageBuffer(2, seed=5)
    twin.load_state_dict(_roundtrip(buf.state_dict()))
    for k in range(8):
        assert torch.equal(buf.update(_images(1, start=20 + k)), twin.update(_images(1, start=20 + k)))
    with pytest.raises(CheckpointError, match="variant"):
        ImagePool(2).load_state_dict(buf.state_dict())


def test_stored_images_follow_the_callers_device_and_dtype():
    pool = ImagePool(1, seed=0)
    pool.query(_images(1))
    pool.load_state_dict(_roundtrip(pool.state_dict()))
    out = torch.cat([pool.query(_images(1, start=5).double()) for _ in range(8)])
    assert out.dtype == torch.float64
