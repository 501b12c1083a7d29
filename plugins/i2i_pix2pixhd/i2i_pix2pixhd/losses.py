"""pix2pixHD's losses: multi-scale GAN loss, discriminator feature matching, VGG19 perceptual loss.

All three take the discriminator's output format: a list over scales (full
resolution first) of lists of tensors, the last of which is the patch prediction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from i2i_core import ConfigError, first_line

VGG19_FILE = "vgg19-dcbb9e9d.pth"
# pix2pixHD's Vgg19 cuts torchvision's vgg19().features after relu1_1, relu2_1,
# relu3_1, relu4_1 and relu5_1; each slice's perceptual term has its own weight
VGG_SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))
VGG_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


def _last_per_scale(pred: Sequence | torch.Tensor) -> list[torch.Tensor]:
    """The patch predictions of a D output: one per scale (or the only one of a single D)."""
    if isinstance(pred, torch.Tensor):
        return [pred]
    if len(pred) and isinstance(pred[0], (list, tuple)):
        return [scale[-1] for scale in pred]
    return [pred[-1]]


class GANLoss(nn.Module):
    """pix2pixHD's ``GANLoss``: LSGAN (MSE) or BCE on the last tensor of each scale, summed over scales.

    Args:
        use_lsgan: MSE against constant targets; otherwise BCE.
        target_real_label: target value for real.
        target_fake_label: target value for fake.
        from_logits: with BCE, the predictions are logits (a D built with
            ``getIntermFeat`` never applies its Sigmoid, which makes the reference's
            ``--no_lsgan`` crash); the loss then applies the sigmoid itself, stably.

    Shape:
        ``forward(pred, target_is_real)``: ``pred`` a list over scales of lists of
        tensors (or one list / one tensor); returns a 0-d tensor.
    """

    def __init__(self, use_lsgan: bool = True, target_real_label: float = 1.0, target_fake_label: float = 0.0,
                 from_logits: bool = False) -> None:
        super().__init__()
        self.use_lsgan = use_lsgan
        self.real_label = float(target_real_label)
        self.fake_label = float(target_fake_label)
        self.from_logits = from_logits

    def forward(self, pred: Sequence | torch.Tensor, target_is_real: bool) -> torch.Tensor:
        value = self.real_label if target_is_real else self.fake_label
        total: torch.Tensor | None = None
        for p in _last_per_scale(pred):
            # losses in float32: BCE is not autocast-safe and MSE sums better that way
            with torch.autocast(p.device.type, enabled=False):
                p = p.float()
                target = torch.full_like(p, value)
                if self.use_lsgan:
                    term = nn.functional.mse_loss(p, target)
                elif self.from_logits:
                    term = nn.functional.binary_cross_entropy_with_logits(p, target)
                else:
                    term = nn.functional.binary_cross_entropy(p, target)
            total = term if total is None else total + term
        if total is None:
            raise ValueError("GANLoss: empty discriminator output")
        return total


class FeatureMatchingLoss(nn.Module):
    """pix2pixHD's discriminator feature-matching loss.

    ``sum_i sum_{j < len(fake[i]) - 1} (1/num_D) (4/(n_layers_D+1)) L1(fake[i][j], real[i][j].detach()) lambda_feat``;
    the final prediction of each scale is left out.

    Args:
        num_D: number of scales.
        n_layers_D: stride-2 convolutions per PatchGAN.
        lambda_feat: weight (10 in pix2pixHD).
    """

    def __init__(self, num_D: int = 2, n_layers_D: int = 3, lambda_feat: float = 10.0) -> None:  # noqa: N803
        super().__init__()
        self.num_D = num_D
        self.n_layers_D = n_layers_D
        self.lambda_feat = lambda_feat

    def forward(self, pred_fake: Sequence, pred_real: Sequence) -> torch.Tensor:
        # same association order as the reference: (D_w * feat_w * L1) * lambda
        d_weight, feat_weight = 1.0 / self.num_D, 4.0 / (self.n_layers_D + 1)
        total = pred_fake[0][0].new_zeros((), dtype=torch.float32)
        for fake_scale, real_scale in zip(pred_fake, pred_real, strict=True):
            for j in range(len(fake_scale) - 1):
                l1 = nn.functional.l1_loss(fake_scale[j].float(), real_scale[j].detach().float())
                total = total + d_weight * feat_weight * l1 * self.lambda_feat
        return total


# --- VGG19 perceptual loss -----------------------------------------------------------


def vgg19_features() -> nn.Sequential:
    """An untrained copy of torchvision's ``vgg19().features`` (same indices and keys), without the classifier."""
    from torchvision.models.vgg import cfgs, make_layers

    return make_layers(cfgs["E"], batch_norm=False)


def default_vgg_path() -> Path:
    """Where torchvision keeps the file: ``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def _missing_message(path: Path) -> str:
    return (f"VGG19 weights not found at {path}: copy torchvision's {VGG19_FILE} there or set "
            f"model.vgg_weights=PATH (on a connected machine `python -c \"import torchvision; "
            f"torchvision.models.vgg19(weights='IMAGENET1K_V1')\"` saves it to "
            f"~/.cache/torch/hub/checkpoints/), or turn the loss off with model.no_vgg_loss=true")


def check_vgg_state(state: dict, source: str | Path, features: nn.Module | None = None) -> dict:
    """Pick and check the ``features.*`` tensors of a torchvision VGG19 state dict.

    Args:
        state: the loaded file (keys ``features.<i>.weight/bias`` and ``classifier.*``).
        source: the file, for messages.
        features: the module the tensors must fit (default: a fresh :func:`vgg19_features`
            on the meta device, so checking costs no memory).

    Returns:
        The state dict for ``features`` (prefix stripped, classifier dropped).

    Raises:
        ConfigError: a key is missing or has the wrong shape.
    """
    if features is None:
        with torch.device("meta"):
            features = vgg19_features()
    wanted = features.state_dict()
    picked = {}
    for key, ref in wanted.items():
        got = state.get(f"features.{key}", state.get(key))
        if not isinstance(got, torch.Tensor):
            raise ConfigError(f"{source}: not torchvision's VGG19 weights (no tensor features.{key}); "
                              f"expected the file {VGG19_FILE}")
        if tuple(got.shape) != tuple(ref.shape):
            raise ConfigError(f"{source}: features.{key} has shape {tuple(got.shape)}, expected "
                              f"{tuple(ref.shape)} (torchvision's {VGG19_FILE})")
        picked[key] = got
    return picked


def load_vgg19_features(path: str | Path | None = None) -> nn.Sequential:
    """Torchvision's VGG19 ``features`` with ImageNet weights read from a local file; never downloads.

    Args:
        path: the ``.pth`` file; default :func:`default_vgg_path`.

    Raises:
        ConfigError: the file is missing, unreadable or not VGG19's.
    """
    path = Path(os.path.expanduser(str(path))) if path else default_vgg_path()
    if not path.is_file():
        raise ConfigError(_missing_message(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated download, an unrelated file, ...
        raise ConfigError(f"{path}: cannot read VGG19 weights ({type(exc).__name__}: {first_line(exc)})") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{path}: expected a state dict (torchvision's {VGG19_FILE})")
    features = vgg19_features()
    features.load_state_dict(check_vgg_state(state, path, features))
    return features


class VGGLoss(nn.Module):
    """pix2pixHD's VGG19 perceptual loss: ``sum_k w_k L1(vgg_k(x), vgg_k(y).detach())``.

    Images go in as they are (in [-1, 1], no ImageNet normalisation), as in pix2pixHD.
    The VGG parameters are frozen; the module is not a network of the recipe, so it
    is never checkpointed.

    Args:
        weights_path: torchvision's ``vgg19-dcbb9e9d.pth`` (default: the torch hub cache).
        features: an already-built ``vgg19().features``-like module (tests pass a small
            random one); when given, no file is read.

    Shape:
        ``forward(x, y)`` with (B, 3, H, W) images -> 0-d tensor.
    """

    def __init__(self, weights_path: str | Path | None = None, features: nn.Sequential | None = None) -> None:
        super().__init__()
        feats = features if features is not None else load_vgg19_features(weights_path)
        self.slices = nn.ModuleList(
            nn.Sequential(*[feats[i] for i in range(start, stop)]) for start, stop in VGG_SLICES)
        self.weights = VGG_WEIGHTS
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGLoss:
        # a fixed feature extractor: stays in eval mode whatever the caller sets
        return super().train(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros((), dtype=torch.float32)
        for weight, block in zip(self.weights, self.slices, strict=True):
            x, y = block(x), block(y)
            total = total + weight * nn.functional.l1_loss(x.float(), y.detach().float())
        return total
