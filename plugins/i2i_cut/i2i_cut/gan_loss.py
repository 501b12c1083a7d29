"""CUT's adversarial loss: the core's :class:`~i2i_core.GANLoss` modes plus ``nonsaturating``.

``nonsaturating`` is ``softplus(-pred)`` against the real label and ``softplus(pred)`` against
the fake one, averaged over each sample's map: one value per sample. The recipe takes
``.mean()`` of every GAN term, which makes the other modes (already means) unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from i2i_core import ConfigError, GANLoss

GAN_MODES: tuple[str, ...] = ("lsgan", "vanilla", "wgangp", "nonsaturating")


class CUTGANLoss(nn.Module):
    """Adversarial loss with CUT's ``gan_mode`` choices.

    Shape:
        - prediction: (B, ...) discriminator logits.
        - output: (B,) for ``nonsaturating``, a 0-d mean otherwise.

    Example:
        >>> loss = CUTGANLoss("nonsaturating")
        >>> loss(torch.zeros(2, 1, 3, 3), True).shape
        torch.Size([2])
    """

    def __init__(self, gan_mode: str = "lsgan") -> None:
        super().__init__()
        if gan_mode not in GAN_MODES:
            raise ConfigError(f"gan_mode {gan_mode!r}: expected one of {', '.join(GAN_MODES)}")
        self.gan_mode = gan_mode
        self._core = None if gan_mode == "nonsaturating" else GANLoss(gan_mode)

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        if self._core is not None:
            return self._core(prediction, target_is_real)
        per_element = F.softplus(-prediction) if target_is_real else F.softplus(prediction)
        return per_element.reshape(prediction.shape[0], -1).mean(dim=1)

    def extra_repr(self) -> str:
        return f"gan_mode={self.gan_mode!r}"
