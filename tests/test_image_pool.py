"""Image histories (i2i_core.recipe.image_pool): junyanz's ImagePool and the book's ImageBuffer, state round trips
and the state formats of older CycleGAN and pix2pixHD checkpoints."""

from __future__ import annotations

import io

import pytest
import torch

from i2i_core.base.errors import CheckpointError
from i2i_core.recipe.image_pool import ImageBuffer, ImagePool


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
    assert torch.equal(buf.query(first), first)  # one stored batch: whatever the coin, it is this one
    for k in range(2):
        buf.query(_images(2, start=10 * (k + 1)))
    assert len(buf) == 3
    buf.query(_images(2, start=90))  # full: a random slot is overwritten
    assert len(buf) == 3 and 90 in _ids(torch.cat(buf.images))
    outs = [_ids(buf.query(_images(2, start=200 + 10 * k)))[0] for k in range(30)]
    assert any(o == 200 + 10 * k for k, o in enumerate(outs))  # sometimes the current batch
    assert any(o != 200 + 10 * k for k, o in enumerate(outs))  # sometimes a stored one


def test_book_buffer_state_round_trip_and_kind_check():
    buf = ImageBuffer(2, seed=1)
    for k in range(4):
        buf.query(_images(1, start=k))
    twin = ImageBuffer(2, seed=5)
    twin.load_state_dict(_roundtrip(buf.state_dict()))
    for k in range(8):
        assert torch.equal(buf.query(_images(1, start=20 + k)), twin.query(_images(1, start=20 + k)))
    with pytest.raises(CheckpointError, match="variant"):
        ImagePool(2).load_state_dict(buf.state_dict())


def test_stored_images_follow_the_callers_device_and_dtype():
    pool = ImagePool(1, seed=0)
    pool.query(_images(1))
    pool.load_state_dict(_roundtrip(pool.state_dict()))
    out = torch.cat([pool.query(_images(1, start=5).double()) for _ in range(8)])
    assert out.dtype == torch.float64


def test_old_cyclegan_state_format_loads_and_continues_the_same_draws():
    # what i2i_cyclegan._History.state_dict wrote before the pools moved to the core
    pool = ImagePool(2, seed=11)
    pool.query(_images(3))
    old = {"kind": "junyanz_image_pool", "capacity": 2, "images": [t.clone() for t in pool.images],
           "rng": pool.generator.get_state()}
    twin = ImagePool(2, seed=0)
    twin.load_state_dict(_roundtrip(old))
    for k in range(10):
        assert torch.equal(pool.query(_images(1, start=30 + k)), twin.query(_images(1, start=30 + k)))
    buf = ImageBuffer(2, seed=4)
    buf.query(_images(1))
    old_buf = {"kind": "book_image_buffer", "capacity": 2, "images": [t.clone() for t in buf.images],
               "rng": buf.generator.get_state()}
    twin_buf = ImageBuffer(2, seed=9)
    twin_buf.load_state_dict(_roundtrip(old_buf))
    assert _ids(torch.cat(twin_buf.images)) == [0]
    for k in range(6):
        assert torch.equal(buf.query(_images(1, start=40 + k)), twin_buf.query(_images(1, start=40 + k)))


def test_old_pix2pixhd_state_format_loads_its_images():
    # i2i_pix2pixhd._pool.ImagePool.state_dict wrote only the images (it drew from Python's random)
    old = {"images": [_images(1, start=7), _images(1, start=8)]}
    pool = ImagePool(2, seed=5)
    fresh = ImagePool(2, seed=5)
    pool.load_state_dict(_roundtrip(old))
    assert _ids(torch.cat(pool.images)) == [7, 8]
    assert torch.equal(pool.generator.get_state(), fresh.generator.get_state())  # no rng: keeps its own
    outs = {_ids(pool.query(_images(1, start=100 + k)))[0] for k in range(20)}
    assert {7, 8} & outs  # the loaded images are served once the pool is full
    empty = ImagePool(3)
    empty.load_state_dict({"images": []})  # an off (pool_size 0) pix2pixHD run saved this
    assert len(empty) == 0


def test_a_larger_saved_history_is_cut_to_the_capacity_and_bad_states_are_checkpoint_errors():
    big = ImagePool(4, seed=0)
    big.query(_images(4))
    small = ImagePool(2)
    small.load_state_dict(big.state_dict())
    assert _ids(torch.cat(small.images)) == [0, 1]
    with pytest.raises(CheckpointError, match="image history state"):
        small.load_state_dict([torch.zeros(1)])
    with pytest.raises(ValueError, match="capacity -1"):
        ImagePool(-1)
