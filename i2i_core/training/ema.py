"""Exponential moving average of the generators' weights (``trainer.ema_decay``).

The averaged copy is what ``translate`` and ``eval`` use when a checkpoint holds one
(``--no-ema`` to compare): averaged GAN generators give visibly steadier outputs than the
last iterate. It is updated on the device after every step with one fused ``lerp`` per
network (no host sync) and saved in the weights file as networks named ``ema.<net>``, so a
resumed run continues the same average bit for bit.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Iterator

import torch
from torch import nn

from i2i_core.io.checkpoint import load_into

PREFIX = "ema."


class EMA:
    """Shadow copies of ``nets`` tracking ``shadow = decay * shadow + (1 - decay) * live``.

    Buffers (BatchNorm running statistics) are copied from the live network rather than
    averaged, as in the usual GAN practice (StyleGAN, imaginaire).

    Args:
        nets: the networks to average (the generators), by name.
        decay: e.g. 0.999; closer to 1 averages over more steps.
    """

    def __init__(self, nets: dict[str, nn.Module], decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.live = nets
        self.shadow = {name: copy.deepcopy(net).requires_grad_(False) for name, net in nets.items()}

    def decay_at(self, step: int) -> float:
        """The decay used after ``step`` optimizer steps: ``min(decay, (1 + step) / (10 + step))``.

        Without this warm-up the average of a short run would still hold mostly the random
        initial weights (0.999 ** 500 = 0.61 of them after 500 steps).
        """
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, step: int | None = None) -> None:
        """Fold the live weights in (``step``: the number of steps done, for the warm-up; None: no warm-up)."""
        decay = self.decay if step is None else self.decay_at(step)
        for name, net in self.live.items():
            shadow = self.shadow[name]
            ema_params: list[torch.Tensor] = [p for p in shadow.parameters()]
            live_params = [p.detach() for p in net.parameters()]
            torch._foreach_lerp_(ema_params, live_params, 1.0 - decay)
            for b_ema, b in zip(shadow.buffers(), net.buffers(), strict=True):
                b_ema.copy_(b)

    def state_dicts(self) -> dict[str, dict[str, torch.Tensor]]:
        """``{"ema.G": state_dict, ...}``: saved beside the live networks in the weights file."""
        return {PREFIX + name: net.state_dict() for name, net in self.shadow.items()}

    def load_state_dicts(self, states: dict[str, dict[str, torch.Tensor]], source: str) -> bool:
        """Restore from a weights file's ``ema.<net>`` entries; False when the file has none (EMA starts anew)."""
        found = {name[len(PREFIX):]: s for name, s in states.items() if name.startswith(PREFIX)}
        if not found:
            for name, net in self.live.items():
                self.shadow[name].load_state_dict(net.state_dict())
            return False
        load_into(self.shadow, found, source)
        return True

    @contextlib.contextmanager
    def swapped_into(self, nets: dict[str, nn.Module]) -> Iterator[None]:
        """Within the block ``nets[name]`` is the averaged copy (to sample or evaluate what translate would use)."""
        saved = {name: nets[name] for name in self.shadow}
        for name, net in self.shadow.items():
            net.train(saved[name].training)
            nets[name] = net
        try:
            yield
        finally:
            nets.update(saved)
