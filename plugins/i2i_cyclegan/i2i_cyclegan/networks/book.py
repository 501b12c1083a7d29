"""The CycleGAN networks of "Hands-On Generative Adversarial Networks with PyTorch 1.x", chapter 6.

Both keep the book's module layout, so their ``state_dict`` keys are the book's
(``model.<i>...``, residual blocks ``model.<i>.block.<j>...``) and its ``cyclegan_G_AB.pt``
style files load strictly. Differences to the junyanz networks of the same shape: every
convolution has a bias (also those feeding a norm), the residual blocks are named ``block``
instead of ``conv_block``, and the initialisation draws only the conv *weights* from
N(0, 0.02), leaving the biases at PyTorch's default uniform init.

The book hard-codes the widths 64/128/256/512; ``width_div`` divides all of them (tests and
demos use tiny networks with the same layer sequence).
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

from i2i_core import ConfigError

#: the book's hard-coded widths
_WIDTHS = (64, 128, 256, 512)

#: the network type ``_init_book`` hands back (it initialises in place and returns its argument)
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def _widths(width_div: int, what: str) -> tuple[int, ...]:
    if not isinstance(width_div, int) or width_div < 1 or 64 % width_div:
        raise ConfigError(f"{what}: width_div {width_div!r} must be a positive divisor of 64 "
                          f"(the book's widths 64/128/256/512 are divided by it)")
    return tuple(w // width_div for w in _WIDTHS)


def _init_book(net: ModuleT) -> ModuleT:
    """The book's ``_weights_init``: every Conv/ConvTranspose weight ~ N(0, 0.02), biases untouched.

    The book matches class names containing ``Conv``; leaf modules are visited in the same
    order by ``modules()`` as by the book's ``apply``, so one seed gives the same tensors.
    """
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight.data, 0.0, 0.02)
    return net


def _conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                    transposed: bool = False) -> list[nn.Module]:
    if transposed:
        conv: nn.Module = nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=padding, output_padding=1)
    else:
        conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding)
    return [conv, nn.InstanceNorm2d(c_out), nn.ReLU(inplace=True)]


class BookResidualBlock(nn.Module):
    """``x + block(x)`` with two reflection-padded 3x3 convs, instance norm and a ReLU between.

    Args:
        channels: input and output channels.

    Shape:
        - input: ``(B, channels, H, W)``; output: the same.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class BookGenerator(nn.Module):
    """The book's ResNet generator: 7x7 conv, two stride-2 downsamplings, residual blocks, two
    transposed-conv upsamplings, 7x7 conv and Tanh.

    Module indices of ``model`` (keys ``model.<i>``): 0 pad, 1/4/7 convs (each followed by
    InstanceNorm and ReLU), ``10 .. 9+num_blocks`` residual blocks, then two transposed convs
    with norm and ReLU, a pad, the output conv and Tanh.

    Args:
        channels: image channels (input and output).
        num_blocks: residual blocks (the book's default 9).
        width_div: divide the hard-coded widths 64/128/256 by this.

    Shape:
        - input: ``(B, channels, H, W)`` with H, W multiples of 4 (otherwise the output is
          rounded up to one); output: ``(B, channels, H, W)`` in [-1, 1].

    Example:
        >>> g = BookGenerator(3, num_blocks=2, width_div=16)
        >>> g(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(self, channels: int = 3, num_blocks: int = 9, width_div: int = 1) -> None:
        super().__init__()
        w1, w2, w4, _ = _widths(width_div, "book_generator")
        if num_blocks < 0:
            raise ConfigError(f"book_generator: num_blocks {num_blocks} must be >= 0")
        self.channels = channels
        layers: list[nn.Module] = [nn.ReflectionPad2d(3)]
        layers += _conv_norm_relu(channels, w1, 7, 1, 0)
        layers += _conv_norm_relu(w1, w2, 3, 2, 1)
        layers += _conv_norm_relu(w2, w4, 3, 2, 1)
        layers += [BookResidualBlock(w4) for _ in range(num_blocks)]
        layers += _conv_norm_relu(w4, w2, 3, 2, 1, transposed=True)
        layers += _conv_norm_relu(w2, w1, 3, 2, 1, transposed=True)
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w1, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class BookDiscriminator(nn.Module):
    """The book's 70x70 PatchGAN: 4x4 convs with strides 2, 2, 2, 1 (no norm after the first,
    InstanceNorm after the others, LeakyReLU 0.2), then a 1-channel 4x4 conv.

    Keys and shapes equal junyanz's ``NLayerDiscriminator(channels, 64, 3, instance)``; a
    256x256 input gives a 30x30 map.

    Args:
        channels: image channels.
        width_div: divide the hard-coded widths 64/128/256/512 by this.

    Shape:
        - input: ``(B, channels, H, W)``; output: ``(B, 1, H/8 - 2, W/8 - 2)`` (30x30 for 256x256).
    """

    def __init__(self, channels: int = 3, width_div: int = 1) -> None:
        super().__init__()
        w1, w2, w4, w8 = _widths(width_div, "book_discriminator")
        self.channels = channels
        self.model = nn.Sequential(
            *self._layer(channels, w1, 2, normalize=False),
            *self._layer(w1, w2, 2),
            *self._layer(w2, w4, 2),
            *self._layer(w4, w8, 1),
            nn.Conv2d(w8, 1, 4, stride=1, padding=1),
        )

    @staticmethod
    def _layer(c_in: int, c_out: int, stride: int, normalize: bool = True) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, stride=stride, padding=1)]
        if normalize:
            layers.append(nn.InstanceNorm2d(c_out))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        return layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def book_generator(channels: int = 3, num_blocks: int = 9, width_div: int = 1) -> BookGenerator:
    """Registry builder: the book's generator with the book's initialisation applied."""
    return _init_book(BookGenerator(channels, num_blocks, width_div))


def book_discriminator(channels: int = 3, width_div: int = 1) -> BookDiscriminator:
    """Registry builder: the book's discriminator with the book's initialisation applied."""
    return _init_book(BookDiscriminator(channels, width_div))
