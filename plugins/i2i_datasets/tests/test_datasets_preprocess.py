"""Preprocess modes: output sizes, draws, and agreement with the reference's torchvision pipeline."""

from __future__ import annotations

import pytest
import torch
from datasets_helpers import rand_rgb
from PIL import Image

from i2i_datasets._io import to_normalized
from i2i_datasets.preprocess import Preprocess


@pytest.mark.parametrize(("mode", "size", "expected"), [
    ("resize_and_crop", (24, 18), (16, 16)),
    ("crop", (24, 20), (16, 16)),
    ("crop", (12, 12), (12, 12)),            # smaller than crop_size: passes through (reference)
    ("scale_width", (40, 20), (20, 16)),     # height = max(20 * 20 / 40, crop_size)
    ("scale_width", (20, 30), (20, 30)),     # already load_size wide and tall enough
    ("scale_width", (10, 30), (20, 60)),
    ("scale_width_and_crop", (40, 30), (16, 16)),
    ("none", (30, 18), (32, 16)),            # round(7.5) = 8, round(4.5) = 4 (half to even)
    ("none", (16, 20), (16, 20)),
])
@pytest.mark.parametrize("train", [True, False])
def test_output_sizes(mode: str, size: tuple[int, int], expected: tuple[int, int], train: bool) -> None:
    pre = Preprocess(mode, 20, 16, train=train)
    assert pre.output_size(size) == expected
    img = rand_rgb(*size, seed=1)
    for seed in range(3):
        out = pre.apply(img, pre.plan(size, torch.Generator().manual_seed(seed)))
        assert out.size == expected


def test_size_multiple() -> None:
    pre = Preprocess("none", 20, 16, train=False)
    assert pre.output_size((30, 18), size_multiple=8) == (32, 16)
    assert pre.output_size((30, 18), size_multiple=32) == (32, 32)  # never below one base
    assert pre.output_size((3, 3), size_multiple=4) == (4, 4)


def test_draws_depend_on_seed_only() -> None:
    pre = Preprocess("resize_and_crop", 30, 16, train=True)
    plans = [pre.plan((40, 40), torch.Generator().manual_seed(s)) for s in range(12)]
    again = [pre.plan((40, 40), torch.Generator().manual_seed(s)) for s in range(12)]
    assert plans == again
    assert len({p.crop for p in plans}) > 1 and {p.flip for p in plans} == {True, False}


def test_eval_is_centred_and_unflipped() -> None:
    pre = Preprocess("resize_and_crop", 30, 16, train=False)
    for s in range(5):
        p = pre.plan((40, 40), torch.Generator().manual_seed(s))
        assert p.crop == (7, 7, 23, 23) and not p.flip


def test_no_flip() -> None:
    pre = Preprocess("crop", 30, 16, train=True, no_flip=True)
    assert not any(pre.plan((32, 32), torch.Generator().manual_seed(s)).flip for s in range(20))


def test_matches_reference_transform_pipeline() -> None:
    """Resize(bicubic) -> crop -> flip -> ToTensor -> Normalize, bit for bit (torchvision on PIL)."""
    tv = pytest.importorskip("torchvision.transforms.functional")
    from torchvision.transforms import InterpolationMode

    img = rand_rgb(23, 17, seed=3)
    pre = Preprocess("resize_and_crop", 20, 16, train=True)
    for seed in range(4):
        plan = pre.plan(img.size, torch.Generator().manual_seed(seed))
        ours = to_normalized(pre.apply(img, plan, Image.BICUBIC))
        ref = tv.resize(img, [20, 20], InterpolationMode.BICUBIC)
        x, y = plan.crop[:2]
        ref = ref.crop((x, y, x + 16, y + 16))
        if plan.flip:
            ref = tv.hflip(ref)
        ref = tv.normalize(tv.to_tensor(ref), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
        assert torch.equal(ours, ref)
