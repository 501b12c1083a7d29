"""Metric values against hand-computed ones and other libraries; weights files and their errors."""

from __future__ import annotations

import json
import math

import kornia
import pytest
import torch

from i2i_core.evaluation import metrics as M
from i2i_core.evaluation.evaluate import Scores


def _pair(seed: int = 0, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    return a, (a + 0.3 * torch.randn(a.shape, generator=g)).clamp(-1, 1)


def test_psnr_of_a_known_error_is_hand_computed():
    # [-1, 1] -> [0, 1]: 0 -> 0.5 and 0.2 -> 0.6, so MSE = 0.01 and PSNR = 10 log10(1 / 0.01) = 20 dB
    value = M.psnr(torch.zeros(3, 1, 8, 8), torch.full((3, 1, 8, 8), 0.2))
    assert value.shape == (3,) and torch.allclose(value, torch.full((3,), 20.0), atol=1e-4)


def test_psnr_and_ssim_agree_with_kornia_per_image():
    a, b = _pair()
    ours_psnr, ours_ssim = M.psnr(a, b), M.ssim(a, b)
    for i in range(2):
        ref = kornia.metrics.psnr((a[i : i + 1] + 1) / 2, (b[i : i + 1] + 1) / 2, 1.0)
        assert ours_psnr[i] == pytest.approx(float(ref), abs=1e-4)
    ref_ssim = kornia.metrics.ssim((a + 1) / 2, (b + 1) / 2, 11).flatten(1).mean(1)
    assert torch.allclose(ours_ssim, ref_ssim, atol=1e-3)


def test_ssim_of_constant_images_is_the_luminance_term():
    # constant images: contrast/structure terms are c2/c2 = 1, luminance (2xy + c1) / (x² + y² + c1)
    c1, x, y = 0.01**2, 0.5, 0.6
    value = M.ssim(torch.zeros(1, 1, 16, 16), torch.full((1, 1, 16, 16), 0.2))
    assert float(value[0]) == pytest.approx((2 * x * y + c1) / (x * x + y * y + c1), abs=1e-5)
    a, _ = _pair()
    assert torch.allclose(M.ssim(a, a), torch.ones(2), atol=1e-5)


def test_ssim_rejects_images_smaller_than_its_window():
    with pytest.raises(M.MetricError, match="at least 11x11"):
        M.ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_fid_of_identical_sets_is_zero_and_of_shifted_sets_is_the_mean_term():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(40, 16, generator=g).double()
    assert abs(M.fid_from_features(real, real)) < 1e-3
    # same covariance, means apart by 0.5 in each of 16 dimensions: FID = |Δμ|² = 16 * 0.25
    assert M.fid_from_features(real, real + 0.5) == pytest.approx(4.0, abs=1e-6)


def test_small_set_fid_equals_torchmetrics_eigensolve():
    from torchmetrics.image.fid import FrechetInceptionDistance

    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(12, 64, generator=g).double(), (torch.randn(10, 64, generator=g) * 1.3 + 0.2).double()
    reference = FrechetInceptionDistance(feature=M._Given(64))
    reference.update(real, real=True)
    reference.update(fake, real=False)
    assert M.fid_from_features(real, fake) == pytest.approx(float(reference.compute()), rel=1e-6)


def test_kid_is_unbiased():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(30, 8, generator=g).double()
    # the unbiased MMD² estimate of a set against itself is below zero (the diagonal is left out) ...
    assert M.kid_from_features(real, real, subset_size=30)[0] < 0
    # ... independent samples of one distribution land on both sides of zero ...
    draws = [M.kid_from_features(torch.randn(30, 8, generator=g), torch.randn(30, 8, generator=g),
                                 subsets=10, subset_size=20, seed=s)[0] for s in range(12)]
    assert min(draws) < 0 < max(draws)
    # ... and a shifted distribution scores clearly above them
    assert M.kid_from_features(real, real + 1.0)[0] > 10 * max(draws)
    # reproducible: subsets come from the seed, and the global RNG is left alone
    state = torch.get_rng_state()
    first = M.kid_from_features(real, real + 1.0, subsets=5, subset_size=10, seed=3)
    assert M.kid_from_features(real, real + 1.0, subsets=5, subset_size=10, seed=3) == first
    assert torch.equal(torch.get_rng_state(), state)


def test_set_metrics_of_fewer_than_two_images_are_nan():
    one = torch.zeros(1, 4).double()
    assert math.isnan(M.fid_from_features(one, one)) and math.isnan(M.kid_from_features(one, one)[0])


def test_parse_metrics_and_directions():
    assert M.parse_metrics("FID, psnr,fid") == ["fid", "psnr"]
    assert M.parse_metrics(None) == ["psnr", "ssim"]
    with pytest.raises(M.MetricError, match="unknown metric 'fdi' \\(did you mean fid\\?\\)"):
        M.parse_metrics("fdi")
    assert M.is_better("fid", 10.0, 12.0) and not M.is_better("psnr", 10.0, 12.0)
    assert M.is_better("ssim", 0.5, None) and not M.is_better("ssim", float("nan"), 0.1)
    assert M.is_better("psnr_AtoB", 21.0, 20.0)


def test_missing_weights_name_file_source_and_flag(tmp_path, monkeypatch):
    monkeypatch.delenv("I2I_WEIGHTS_DIR", raising=False)
    with pytest.raises(M.MetricError) as err:
        M.require_weights(["fid"])
    text = str(err.value)
    assert M.INCEPTION_FILE in text and "torch-fidelity" in text and "--inception-weights" in text
    assert "\n" not in text
    with pytest.raises(M.MetricError, match="--lpips-weights .*nope.pth: no such file.*AlexNet"):
        M.require_weights(["lpips"], lpips=tmp_path / "nope.pth")
    monkeypatch.setenv("I2I_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / M.LPIPS_FILE).write_bytes(b"")
    assert M.require_weights(["lpips", "psnr"]) == {"lpips": tmp_path / M.LPIPS_FILE}
    with pytest.raises(M.MetricError, match=f"not in I2I_WEIGHTS_DIR={tmp_path}"):
        M.require_weights(["kid"])


def test_wrong_weights_file_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(M.MetricError, match="other.pth: not torchvision AlexNet weights"):
        M.lpips_network(bad)
    with pytest.raises(M.MetricError, match="other.pth: not torch-fidelity InceptionV3 weights"):
        M.inception_features(bad)


def test_lpips_from_a_random_backbone_file(tmp_path):
    path = M.write_random_weights("lpips", tmp_path / M.LPIPS_FILE, seed=0)
    net = M.lpips_network(path)
    a, b = _pair(size=32)
    same, diff = M.lpips(net, a, a), M.lpips(net, a, b)
    assert same.shape == (2,) and torch.allclose(same, torch.zeros(2), atol=1e-6) and bool((diff > 0).all())
    grey = M.lpips(net, a[:, :1], b[:, :1])  # one channel is repeated to three
    assert grey.shape == (2,) and bool((grey > 0).all())
    with pytest.raises(M.MetricError, match="at least 32x32"):
        M.lpips(net, a[..., :16, :16], b[..., :16, :16])


def test_scores_json_is_valid_with_null_and_reason():
    scores = Scores({"psnr": 20.0, "fid": float("nan"), "kid": float("inf")})
    scores.notes["fid"] = "needs at least 2 held-out images, got 1"
    data = json.loads(scores.to_json(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert data["psnr"] == 20.0 and data["fid"] is None and data["kid"] is None
    assert "2 held-out images" in data["notes"]["fid"] and "inf" in data["notes"]["kid"]
