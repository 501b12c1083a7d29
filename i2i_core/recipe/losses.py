"""Adversarial losses shared by every recipe: :class:`GANLoss` and :func:`gradient_penalty`.

Both follow the semantics of junyanz/pytorch-CycleGAN-and-pix2pix (``GANLoss`` and
``cal_gradient_penalty`` in its ``models/networks.py``), so that a recipe built on them
reproduces that reference's losses to float32 rounding.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from i2i_core.base.errors import ConfigError

GAN_MODES = ("vanilla", "lsgan", "wgangp", "hinge")
PENALTY_TYPES = ("real", "fake", "mixed")


class GANLoss(nn.Module):
    """Adversarial loss against a constant real/fake target.

    Modes:
        ``vanilla``: binary cross-entropy on logits (the discriminator has no sigmoid);
        ``lsgan``: mean squared error against the target label;
        ``wgangp``: ``-mean(pred)`` for real, ``+mean(pred)`` for fake (Wasserstein critic);
        ``hinge``: discriminator ``mean(relu(1 - pred))`` for real and ``mean(relu(1 + pred))``
        for fake; generator ``-mean(pred)`` (call with ``for_discriminator=False``).

    For vanilla and lsgan the target label is broadcast to the prediction's shape, so any
    PatchGAN map size works. Labels only matter for vanilla and lsgan.

    Args:
        gan_mode: one of ``vanilla``, ``lsgan``, ``wgangp``, ``hinge``.
        target_real_label: target value for real predictions.
        target_fake_label: target value for fake predictions.

    Raises:
        ConfigError: ``gan_mode`` is not one of the modes above.

    Shape:
        - prediction: any shape, e.g. ``(B, 1, H, W)`` for a PatchGAN.
        - output: scalar (0-d tensor).

    Example:
        >>> loss = GANLoss("lsgan")
        >>> pred = torch.zeros(2, 1, 4, 4)
        >>> float(loss(pred, True)), float(loss(pred, False))
        (1.0, 0.0)
    """

    def __init__(self, gan_mode: str, target_real_label: float = 1.0, target_fake_label: float = 0.0) -> None:
        super().__init__()
        if gan_mode not in GAN_MODES:
            raise ConfigError(f"gan_mode {gan_mode!r} is not supported; expected one of {', '.join(GAN_MODES)}")
        self.gan_mode = gan_mode
        self.target_real_label = float(target_real_label)
        self.target_fake_label = float(target_fake_label)
        criteria: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
            "vanilla": F.binary_cross_entropy_with_logits,
            "lsgan": F.mse_loss,
        }
        self._criterion = criteria.get(gan_mode)

    def target_tensor(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        """The label broadcast to ``prediction``'s shape (dtype and device follow the prediction)."""
        value = self.target_real_label if target_is_real else self.target_fake_label
        return torch.full_like(prediction, value)

    def forward(self, prediction: torch.Tensor, target_is_real: bool, for_discriminator: bool = True) -> torch.Tensor:
        """Loss of ``prediction`` against the real (``True``) or fake (``False``) target.

        Args:
            prediction: discriminator output (logits for vanilla).
            target_is_real: whether the target is the real label.
            for_discriminator: only matters for ``hinge``: ``False`` gives the generator's
                ``-mean(prediction)`` (``target_is_real`` must then be ``True``).

        Returns:
            The mean loss (0-d tensor).
        """
        if self._criterion is not None:
            return self._criterion(prediction, self.target_tensor(prediction, target_is_real))
        if self.gan_mode == "wgangp":
            return -prediction.mean() if target_is_real else prediction.mean()
        if not for_discriminator:  # hinge, generator side
            if not target_is_real:
                raise ValueError("the generator's hinge loss is only defined for target_is_real=True")
            return -prediction.mean()
        if target_is_real:
            return F.relu(1.0 - prediction).mean()
        return F.relu(1.0 + prediction).mean()

    def extra_repr(self) -> str:
        return (f"gan_mode={self.gan_mode!r}, target_real_label={self.target_real_label}, "
                f"target_fake_label={self.target_fake_label}")


def gradient_penalty(
    netD: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    type: str = "mixed",
    constant: float = 1.0,
    lambda_gp: float = 10.0,
    alpha: torch.Tensor | None = None,
) -> tuple[torch.Tensor | float, torch.Tensor | None]:
    """WGAN-GP gradient penalty ``lambda_gp * mean_b((||grad_b + 1e-16||_2 - constant)^2)``.

    The gradient of ``netD`` is taken with respect to its input at real samples
    (``type="real"``), fake samples (``"fake"``) or per-sample random interpolations
    ``alpha * real + (1 - alpha) * fake`` (``"mixed"``). The graph is kept
    (``create_graph=True``) so the penalty can be backpropagated into ``netD``.

    Args:
        netD: the critic / discriminator.
        real: real samples.
        fake: fake samples (usually detached generator outputs).
        type: ``real``, ``fake`` or ``mixed``.
        constant: the target gradient norm.
        lambda_gp: weight of the penalty; ``0`` disables it.
        alpha: for ``mixed``, interpolation weights of shape ``(B, 1)``; drawn from
            ``U(0, 1)`` when omitted.

    Returns:
        ``(penalty, gradients)`` with the penalty a 0-d tensor and ``gradients`` the input
        gradients flattened to ``(B, C*H*W)``; ``(0.0, None)`` when ``lambda_gp`` is 0.

    Raises:
        ConfigError: ``type`` is not one of ``real``, ``fake``, ``mixed``.

    Shape:
        - real, fake: ``(B, C, H, W)``.
        - alpha: ``(B, 1)``.
        - gradients: ``(B, C*H*W)``.

    Example:
        >>> d = nn.Sequential(nn.Conv2d(3, 1, 3))
        >>> gp, grads = gradient_penalty(d, torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8))
        >>> grads.shape
        torch.Size([2, 192])
    """
    if type not in PENALTY_TYPES:
        raise ConfigError(f"gradient penalty type {type!r} is not supported; expected one of {', '.join(PENALTY_TYPES)}")
    if lambda_gp <= 0.0:
        return 0.0, None
    batch = real.shape[0]
    if type == "real":
        points = real
    elif type == "fake":
        points = fake
    else:
        if alpha is None:
            alpha = torch.rand(batch, 1, device=real.device, dtype=real.dtype)
        # one weight per sample, broadcast over all of its elements
        weights = alpha.to(device=real.device, dtype=real.dtype).expand(batch, real[0].numel()).reshape(real.shape)
        points = weights * real + (1 - weights) * fake
    if not points.requires_grad:
        # a fresh leaf: never flip requires_grad on the caller's tensor
        points = points.detach().requires_grad_(True)
    out = netD(points)
    (grads,) = torch.autograd.grad(outputs=out, inputs=points, grad_outputs=torch.ones_like(out),
                                   create_graph=True, retain_graph=True, only_inputs=True)
    grads = grads.reshape(batch, -1)
    penalty = (((grads + 1e-16).norm(2, dim=1) - constant) ** 2).mean() * lambda_gp
    return penalty, grads
