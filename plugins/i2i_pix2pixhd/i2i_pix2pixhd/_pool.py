"""History of generated images for the discriminator (pix2pixHD's ``--pool_size``; 0 = off)."""

from __future__ import annotations

import random
from typing import Any

import torch


class ImagePool:
    """Until full, store and return each image; then half of the time swap in a stored one.

    Args:
        pool_size: images kept; 0 returns every query unchanged.
    """

    def __init__(self, pool_size: int) -> None:
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch of the same size mixing ``images`` and older stored ones."""
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif random.uniform(0, 1) > 0.5:  # python RNG: seeded and checkpointed by the trainer
                k = random.randint(0, self.pool_size - 1)
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"images": [t.detach().cpu() for t in self.images]}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.images = [t.to(device) for t in state.get("images", [])]
