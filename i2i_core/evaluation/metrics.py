"""Image-quality metrics for held-out evaluation, computed by torchmetrics (inputs in [-1, 1]).

* ``psnr``, ``ssim``: per image against the target (torchmetrics' functional PSNR/SSIM,
  data range 1 after mapping [-1, 1] to [0, 1]; SSIM with an 11x11 Gaussian window, sigma 1.5).
* ``lpips``: per image against the target, torchmetrics' LPIPS module with the AlexNet
  backbone. Its linear layers ship inside torchmetrics; the AlexNet weights are a file
  (``--lpips-weights``), because torchvision would download them.
* ``fid``, ``kid``: between the set of outputs and the set of targets, on 2048-d pool
  features of torch-fidelity's InceptionV3 (the network torchmetrics uses) loaded from a file
  (``--inception-weights``). Features are extracted once and fed to torchmetrics' FID and KID.

Nothing is downloaded. A weights file comes from the explicit path, else from
``$I2I_WEIGHTS_DIR/<usual file name>``; when neither exists the error names the file, where
it is normally obtained and the flag. :func:`write_random_weights` writes randomly
initialised networks of the right layout for tests and smoke runs (their scores exercise the
code but are not comparable to published figures).
"""

from __future__ import annotations

import difflib
import math
import os
import warnings
from pathlib import Path
from typing import Iterable, Sequence
from unittest import mock

import torch
from torch import nn
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from i2i_core.base.errors import I2IError, first_line

METRICS = ("fid", "kid", "lpips", "psnr", "ssim")
#: direction of each metric, for best-checkpoint selection
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "lpips": False, "fid": False, "kid": False}

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
LPIPS_FILE = "alexnet-owt-7be5be79.pth"
_SOURCES = {
    "inception": (INCEPTION_FILE, "--inception-weights", "FID/KID",
                  "torch-fidelity's release v0.2.0 assets (github.com/toshas/torch-fidelity/releases)"),
    "lpips": (LPIPS_FILE, "--lpips-weights", "LPIPS",
              "torchvision's AlexNet ImageNet weights (download.pytorch.org/models/)"),
}


class MetricError(I2IError):
    """A metric name, a weights file or the evaluated data cannot be used."""


def parse_metrics(spec: str | Iterable[str] | None) -> list[str]:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> validated, de-duplicated names in the given order.

    Example:
        >>> parse_metrics("psnr, SSIM")
        ['psnr', 'ssim']
    """
    if spec is None:
        return ["psnr", "ssim"]
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in items:
        name = str(raw).strip().lower()
        if not name:
            continue
        if name not in METRICS:
            close = difflib.get_close_matches(name, METRICS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise MetricError(f"unknown metric {raw!r}{hint}; expected some of {', '.join(METRICS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise MetricError(f"no metric named in {spec!r}; expected some of {', '.join(METRICS)}")
    return out


def is_better(metric: str, new: float, old: float | None) -> bool:
    """Whether score ``new`` beats ``old`` for ``metric`` (``old=None`` is always beaten; NaN never wins)."""
    base = metric.split("_")[0]
    if base not in HIGHER_IS_BETTER:
        raise MetricError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    if new != new:  # NaN
        return False
    if old is None or old != old:
        return True
    return new > old if HIGHER_IS_BETTER[base] else new < old


# --- per-image metrics ------------------------------------------------------------------


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of images in [-1, 1] (peak 1 after mapping to [0, 1]).

    Shape:
        pred, target: (B, C, H, W); returns (B,).

    Example:
        >>> round(float(psnr(torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.2))[0]), 2)
        20.0
    """
    return peak_signal_noise_ratio(_unit(pred), _unit(target), data_range=1.0, reduction="none", dim=(1, 2, 3))


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5) of images in [-1, 1].

    Shape:
        pred, target: (B, C, H, W) with H, W >= 11; returns (B,).
    """
    a, b = _unit(pred), _unit(target)
    if min(a.shape[-2:]) < 11:
        raise MetricError(f"SSIM needs images of at least 11x11 pixels (its window), got {tuple(a.shape[-2:])}")
    scores = structural_similarity_index_measure(a, b, data_range=1.0, reduction="none")
    assert isinstance(scores, torch.Tensor)  # a tuple only with return_full_image/return_contrast_sensitivity
    return scores.reshape(a.shape[0])


def _rgb(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> 3 channels: grey repeated, extra channels (e.g. alpha) dropped."""
    if x.shape[1] == 1:
        return x.repeat(1, 3, 1, 1)
    if x.shape[1] < 3:
        raise MetricError(f"LPIPS/FID/KID need 1 or 3+ channel images, got {x.shape[1]} channels")
    return x[:, :3]


# --- weights files ----------------------------------------------------------------------


def weights_path(kind: str, path: str | Path | None = None) -> Path:
    """The weights file for ``kind`` (``"inception"`` or ``"lpips"``), or a one-line error.

    Order: ``path`` when given, else ``$I2I_WEIGHTS_DIR/<usual file name>``.
    """
    name, flag, used_by, source = _SOURCES[kind]
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise MetricError(f"{flag} {p}: no such file; {used_by} need {name}, normally from {source}")
        return p
    folder = os.environ.get("I2I_WEIGHTS_DIR")
    if folder and (Path(folder).expanduser() / name).is_file():
        return Path(folder).expanduser() / name
    where = f"not in I2I_WEIGHTS_DIR={folder}" if folder else "I2I_WEIGHTS_DIR is not set"
    raise MetricError(f"{used_by} need the weights file {name} ({where}); it is normally obtained from {source}; "
                      f"pass {flag} FILE or put it in $I2I_WEIGHTS_DIR (nothing is downloaded)")


def require_weights(metrics: Sequence[str], inception: str | Path | None = None,
                    lpips: str | Path | None = None) -> dict[str, Path]:
    """Resolve every weights file ``metrics`` need (call before training so a missing one fails at step 0)."""
    out: dict[str, Path] = {}
    if {"fid", "kid"} & set(metrics):
        out["inception"] = weights_path("inception", inception)
    if "lpips" in metrics:
        out["lpips"] = weights_path("lpips", lpips)
    return out


_CACHE: dict[tuple, nn.Module] = {}


def _cached(key: tuple, build) -> nn.Module:
    # feature networks are large and immutable: load each file once per process and device
    if key not in _CACHE:
        for old in [k for k in _CACHE if k[0] == key[0]]:  # at most one network of each kind in memory
            del _CACHE[old]
        with torch.random.fork_rng(devices=[]):  # their random init must not move the training RNG
            _CACHE[key] = build()
    return _CACHE[key]


def _inception_class() -> type:
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError as exc:  # pragma: no cover - torchmetrics is a core dependency
        raise MetricError(f"FID/KID need torchmetrics and torch-fidelity: {exc}") from None
    return NoTrainInceptionV3


def inception_features(path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """torch-fidelity's InceptionV3 (2048-d pool features) from ``path``, via torchmetrics.

    The module takes uint8 (B, 3, H, W) images, resizes them to 299 like TensorFlow 1 did and
    returns (B, 2048) features.
    """
    p = Path(path)
    dev = torch.device(device)

    def build() -> nn.Module:
        try:
            # torch-fidelity unpickles with weights_only=False; read it safely first, so a file that is
            # not a plain state dict (or not Inception's) is refused before any of its code could run
            state = torch.load(p, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or "Mixed_7c.branch_pool.conv.weight" not in state:
                raise ValueError("no Mixed_7c.branch_pool.conv.weight tensor")
            net = _inception_class()(name="inception-v3-compat", features_list=["2048"],
                                     feature_extractor_weights_path=str(p))
        except Exception as exc:  # wrong or truncated file: say which file and what was expected
            raise MetricError(f"{p}: not torch-fidelity InceptionV3 weights ({INCEPTION_FILE} expected): "
                              f"{first_line(exc)}") from None
        return net.to(dev)

    return _cached(("inception", str(p.resolve()), p.stat().st_mtime_ns, str(dev)), build)


def lpips_network(path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """torchmetrics' LPIPS (AlexNet) whose backbone is loaded from torchvision AlexNet weights at ``path``.

    The learned linear layers are the ones torchmetrics ships. Call it as
    ``net(img1, img2)`` with (B, 3, H, W) images in [-1, 1]; it returns (B, 1, 1, 1) distances.
    """
    from torchmetrics.functional.image.lpips import _NoTrainLpips
    from torchvision.models import alexnet

    p = Path(path)
    dev = torch.device(device)

    def build() -> nn.Module:
        try:
            state = torch.load(p, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            with torch.device("meta"):  # the layout only: no time spent initialising 61M parameters
                backbone = alexnet(weights=None).features
            backbone = backbone.to_empty(device="cpu")
            feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
            backbone.load_state_dict(feats)
        except Exception as exc:
            raise MetricError(f"{p}: not torchvision AlexNet weights ({LPIPS_FILE} expected): {first_line(exc)}") from None
        # pnet_rand: build the backbone without torchvision's download; its layers are copied below
        net = _NoTrainLpips(net="alex", pretrained=True, pnet_rand=True)
        for block in net.net.children():  # slices keep the torchvision layer indices as child names
            for idx, layer in block.named_children():
                layer.load_state_dict(backbone[int(idx)].state_dict())
        return net.to(dev)

    return _cached(("lpips", str(p.resolve()), p.stat().st_mtime_ns, str(dev)), build)


def lpips(net: nn.Module, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image LPIPS distance of images in [-1, 1] with a network from :func:`lpips_network`.

    Shape:
        pred, target: (B, C, H, W), C = 1 or 3; returns (B,).
    """
    a, b = _rgb(pred.float().clamp(-1, 1)), _rgb(target.float().clamp(-1, 1))
    if min(a.shape[-2:]) < 32:  # AlexNet's stride-4 conv and two poolings leave nothing of smaller images
        raise MetricError(f"LPIPS (AlexNet) needs images of at least 32x32 pixels, got {tuple(a.shape[-2:])}")
    return net(a, b).reshape(a.shape[0])


def to_uint8_rgb(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) in [-1, 1] -> uint8 RGB, what the Inception network takes."""
    return ((_rgb(x.float()).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


# --- set metrics on features ----------------------------------------------------------


class _Given(nn.Module):
    """Feature 'extractor' for torchmetrics that returns its input: features are computed once
    and shared by FID and KID instead of running Inception twice."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance of two feature sets (torchmetrics' formula, float64).

    Shape:
        real: (N, D), fake: (M, D) with N, M >= 2.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    if real.shape[0] < 2 or fake.shape[0] < 2:
        return float("nan")
    if min(real.shape[0], fake.shape[0]) < real.shape[1]:
        return _fid_low_rank(real.double().cpu(), fake.double().cpu())
    metric = FrechetInceptionDistance(feature=_Given(real.shape[1]))
    metric.update(real.double().cpu(), real=True)
    metric.update(fake.double().cpu(), real=False)
    return float(metric.compute())


def _fid_low_rank(real: torch.Tensor, fake: torch.Tensor) -> float:
    """The same Fréchet distance for sets smaller than the feature size, without a D x D eigensolve.

    With centred features A (N x D) and B (M x D), S1 = AᵀA/(N-1) and S2 = BᵀB/(M-1), and the
    non-zero eigenvalues of S1·S2 are the squared singular values of A·Bᵀ/sqrt((N-1)(M-1)), so
    tr sqrt(S1·S2) is that small matrix's nuclear norm. torchmetrics' general eigensolve of the
    2048 x 2048 product takes ~20 s on a CPU; this takes milliseconds and agrees to rounding.
    """
    a, b = real - real.mean(0), fake - fake.mean(0)
    n, m = a.shape[0], b.shape[0]
    mean_term = (real.mean(0) - fake.mean(0)).square().sum()
    traces = a.square().sum() / (n - 1) + b.square().sum() / (m - 1)
    cross = torch.linalg.svdvals(a @ b.T / math.sqrt((n - 1) * (m - 1))).sum()
    return float(mean_term + traces - 2 * cross)


def kid_from_features(real: torch.Tensor, fake: torch.Tensor, *, subsets: int = 100,
                      subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (unbiased MMD², cubic polynomial kernel): ``(mean, std)`` over subsets.

    ``subset_size`` is capped at the smaller set; subsets are drawn from a generator seeded with
    ``seed`` so the score is reproducible and the global RNG is left alone.

    Shape:
        real: (N, D), fake: (M, D) with N, M >= 2.
    """
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, real.shape[0], fake.shape[0])
    if size < 2:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = KernelInceptionDistance(feature=_Given(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double().cpu(), real=True)
    metric.update(fake.double().cpu(), real=False)
    # torchmetrics draws subsets with the global RNG: fork it so evaluation never moves training's RNG
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


# --- random weights for tests and smoke runs --------------------------------------------


def write_random_weights(kind: str, path: str | Path, seed: int = 0) -> Path:
    """Write randomly initialised ``kind`` (``"inception"`` or ``"lpips"``) weights to ``path``.

    The file has the layout of the real one, so every code path runs; the scores are not
    comparable with published ones.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if kind == "lpips":
        from torchvision.models import alexnet

        # the backbone part of torchvision's file (the classifier, 230 MB of it, is never read)
        with torch.device("meta"):
            features = alexnet(weights=None).features
        features = features.to_empty(device="cpu")
        for module in features.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, p)
        return p
    if kind != "inception":
        raise MetricError(f"write_random_weights: kind must be 'inception' or 'lpips', got {kind!r}")
    base = _inception_class()

    class _Untrained(base):  # type: ignore[misc, valid-type]
        def load_state_dict(self, state_dict, strict=True, assign=False):  # keep the random init
            return None

    # torch-fidelity fetches weights when given no path; hand it nothing and keep the init instead
    with mock.patch("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", return_value={}):
        net = _Untrained(name="inception-v3-compat", features_list=["2048"])
    # He init keeps activations alive through 90-odd layers (PyTorch's default init makes the
    # pool features nearly constant, which would hide any difference between image sets)
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save(net.state_dict(), p)
    return p
