"""ResNet generator (Johnson et al. style; state-dict compatible with junyanz ``ResnetGenerator``).

Layout of ``self.model``: ReflectionPad(3) + Conv7x7 + norm + ReLU, two stride-2 Conv3x3
downsamplings, ``n_blocks`` residual blocks at ``4 * ngf`` channels, two stride-2
ConvTranspose3x3 upsamplings, ReflectionPad(3) + Conv7x7 + Tanh. Sizes that are not
multiples of 4 come out rounded up to the next multiple of 4.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i_core import ConfigError

from ._layers import PADDING_TYPES, NormFactory, check_choice, conv_bias, init_weights, norm_layer


def _pad(padding_type: str) -> tuple[list[nn.Module], int]:
    """Explicit padding layer(s) and the conv's own padding for a 3x3 conv."""
    if padding_type == "reflect":
        return [nn.ReflectionPad2d(1)], 0
    if padding_type == "replicate":
        return [nn.ReplicationPad2d(1)], 0
    return [], 1


class ResnetBlock(nn.Module):
    """Residual block ``x + conv_block(x)`` with two 3x3 convolutions (no activation after the sum).

    ``conv_block``: [pad] Conv3x3 norm ReLU [Dropout(0.5)] [pad] Conv3x3 norm. With
    ``padding_type="zero"`` the pad layers are absent and the convs pad by 1 themselves,
    which shifts the indices (and state-dict keys) exactly as in the reference.

    Args:
        dim: channels.
        padding_type: ``reflect``, ``replicate`` or ``zero``.
        norm: normalisation factory.
        use_dropout: dropout between the two convolutions.
        use_bias: conv biases.

    Shape:
        - input/output: ``(B, dim, H, W)``.
    """

    def __init__(self, dim: int, padding_type: str, norm: NormFactory, use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        check_choice("padding_type", padding_type, PADDING_TYPES)
        pad, p = _pad(padding_type)
        layers: list[nn.Module] = [*pad, nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias), norm(dim),
                                   nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        pad, p = _pad(padding_type)
        layers += [*pad, nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias), norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """ResNet-based generator with two down/upsamplings around ``n_blocks`` residual blocks.

    Args:
        input_nc: input channels.
        output_nc: output channels.
        ngf: width of the first convolution.
        norm: ``batch``, ``instance`` or ``none``.
        use_dropout: dropout inside the residual blocks.
        n_blocks: number of residual blocks (6 for 128 px, 9 for 256 px in the references).
        padding_type: padding inside the residual blocks: ``reflect``, ``replicate`` or ``zero``
            (the 7x7 convolutions at both ends always reflect-pad).

    Raises:
        ConfigError: negative ``n_blocks``, unknown ``norm`` or ``padding_type``.

    Shape:
        - input: ``(B, input_nc, H, W)``.
        - output: ``(B, output_nc, H', W')`` in ``[-1, 1]``, ``H'``/``W'`` = ``H``/``W`` rounded up
          to a multiple of 4.

    Example:
        >>> g = ResnetGenerator(3, 3, ngf=4, n_blocks=2)
        >>> g(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm: str = "batch", use_dropout: bool = False,
                 n_blocks: int = 6, padding_type: str = "reflect") -> None:
        super().__init__()
        if n_blocks < 0:
            raise ConfigError(f"ResNet n_blocks {n_blocks} is negative; expected 0 or more")
        check_choice("padding_type", padding_type, PADDING_TYPES)
        make_norm, bias = norm_layer(norm), conv_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=bias),
                                   make_norm(ngf), nn.ReLU(True)]
        n_down = 2
        for i in range(n_down):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, kernel_size=3, stride=2, padding=1, bias=bias), make_norm(c * 2), nn.ReLU(True)]
        width = ngf * 2**n_down
        layers += [ResnetBlock(width, padding_type, make_norm, use_dropout, bias) for _ in range(n_blocks)]
        for i in range(n_down):
            c = ngf * 2 ** (n_down - i)
            layers += [nn.ConvTranspose2d(c, c // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias),
                       make_norm(c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def resnet(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "batch", use_dropout: bool = False,
           n_blocks: int = 6, padding_type: str = "reflect", init_type: str = "normal",
           init_gain: float = 0.02) -> ResnetGenerator:
    """ResNet generator with ``n_blocks`` blocks, initialised like the reference's ``define_G``."""
    net = ResnetGenerator(input_nc, output_nc, ngf, norm=norm, use_dropout=use_dropout, n_blocks=n_blocks,
                          padding_type=padding_type)
    return init_weights(net, init_type, init_gain)


def resnet_6blocks(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "batch",
                   use_dropout: bool = False, padding_type: str = "reflect", init_type: str = "normal",
                   init_gain: float = 0.02) -> ResnetGenerator:
    """``resnet_6blocks``: 6 residual blocks (the references' choice for 128x128 images)."""
    return resnet(input_nc, output_nc, ngf, norm, use_dropout, 6, padding_type, init_type, init_gain)


def resnet_9blocks(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "batch",
                   use_dropout: bool = False, padding_type: str = "reflect", init_type: str = "normal",
                   init_gain: float = 0.02) -> ResnetGenerator:
    """``resnet_9blocks``: 9 residual blocks (the references' choice for 256x256 images)."""
    return resnet(input_nc, output_nc, ngf, norm, use_dropout, 9, padding_type, init_type, init_gain)
