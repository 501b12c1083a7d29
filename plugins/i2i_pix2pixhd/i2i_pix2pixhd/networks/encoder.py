"""pix2pixHD's feature encoder E with instance-wise average pooling.

E is an encoder-decoder (no residual blocks) ending in Tanh; its output is then
replaced, per sample, per channel and per instance id, by the mean over that
instance, so each object gets one low-dimensional "style" vector. Keys:
``model.<i>.*`` as in NVIDIA's ``<epoch>_net_E.pth``.
"""

from __future__ import annotations

import torch
from torch import nn

from ._layers import init_weights, norm_factory


def instance_mean(features: torch.Tensor, inst: torch.Tensor) -> torch.Tensor:
    """Replace every pixel by the mean of its instance, per sample and channel.

    Differentiable (the gradient of each pixel's mean flows back to all pixels of
    the instance), vectorised with ``index_add`` instead of the reference's loops.

    Args:
        features: (B, C, H, W) maps.
        inst: (B, 1, H, W) instance ids (float or integer).

    Returns:
        (B, C, H, W) float32 maps constant over each instance (sums are taken in float32
        even under bf16/fp16 autocast: an instance can cover a million pixels).
    """
    b, c, h, w = features.shape
    out = []
    for i in range(b):
        ids = inst[i].reshape(-1)
        _, inverse = torch.unique(ids, return_inverse=True)
        k = int(inverse.max()) + 1 if inverse.numel() else 0
        flat = features[i].reshape(c, h * w).float()
        sums = flat.new_zeros(c, k).index_add(1, inverse, flat)
        counts = torch.bincount(inverse, minlength=k).to(flat.dtype)
        out.append((sums / counts)[:, inverse].reshape(c, h, w))
    return torch.stack(out)


class Encoder(nn.Module):
    """Feature encoder E (``define_G(..., netG="encoder")``).

    Args:
        input_nc: image channels.
        output_nc: feature channels (``feat_num``).
        ngf: width of the first convolution (``nef``).
        n_downsampling: stride-2 convolutions (``n_downsample_E``).
        norm: ``instance`` or ``batch``.

    Shape:
        ``forward(image (B, input_nc, H, W), inst (B, 1, H, W)) -> (B, output_nc, H, W)``;
        ``model(image)`` gives the maps before the instance pooling.
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 32, n_downsampling: int = 4,
                 norm: str = "instance") -> None:
        super().__init__()
        self.output_nc = output_nc
        norm_layer = norm_factory(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0),
                                   norm_layer(ngf), nn.ReLU(True)]
        for i in range(n_downsampling):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, kernel_size=3, stride=2, padding=1), norm_layer(c * 2), nn.ReLU(True)]
        for i in range(n_downsampling):
            c = ngf * 2 ** (n_downsampling - i)
            layers += [nn.ConvTranspose2d(c, c // 2, kernel_size=3, stride=2, padding=1, output_padding=1),
                       norm_layer(c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, inst: torch.Tensor) -> torch.Tensor:
        return instance_mean(self.model(image), inst)


def build_encoder(input_nc: int = 3, output_nc: int = 3, ngf: int = 16, n_downsampling: int | None = None,
                  norm: str = "instance", n_downsample_E: int | None = None,
                  n_downsample_global: int | None = None) -> Encoder:
    """Registry builder for ``encoder`` with the reference init applied.

    ``n_downsampling`` may also be given as ``n_downsample_E`` (the option) or
    ``n_downsample_global`` (``define_G``'s argument); default 4.
    """
    n_down = next((v for v in (n_downsampling, n_downsample_E, n_downsample_global) if v is not None), 4)
    return init_weights(Encoder(input_nc, output_nc, ngf, n_down, norm))
