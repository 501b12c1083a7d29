"""pix2pix networks: U-Net and ResNet generators, PatchGAN and PixelGAN discriminators."""

from __future__ import annotations

from ._layers import INIT_TYPES, NORMS, PADDING_TYPES, init_weights, norm_layer
from .patchgan import NLayerDiscriminator, PixelDiscriminator, basic, n_layers, pixel
from .resnet import ResnetBlock, ResnetGenerator, resnet, resnet_6blocks, resnet_9blocks
from .unet import UNET_DOWNS, UnetGenerator, UnetSkipBlock, unet, unet_128, unet_256

__all__ = [
    "INIT_TYPES", "NLayerDiscriminator", "NORMS", "PADDING_TYPES", "PixelDiscriminator", "ResnetBlock",
    "ResnetGenerator", "UNET_DOWNS", "UnetGenerator", "UnetSkipBlock", "basic", "init_weights", "n_layers",
    "norm_layer", "pixel", "resnet", "resnet_6blocks", "resnet_9blocks", "unet", "unet_128", "unet_256",
]
