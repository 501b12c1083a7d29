"""junyanz's image pool: the discriminator sees a mix of current and earlier generator outputs.

Shrivastava et al. (2017) update the discriminator with a history of generated images to
reduce oscillation; CycleGAN keeps 50 of them per domain.
"""

from __future__ import annotations

import torch

from ._history import _History


class ImagePool(_History):
    """History of single generated images with junyanz's ``ImagePool.query`` semantics.

    Per image of a queried batch: while fewer than ``pool_size`` images are stored, store it and
    return it; once full, with probability 1/2 return a randomly chosen stored image and store
    the new one in its place, otherwise return the new image. ``pool_size`` 0 returns the
    batch unchanged.

    Args:
        pool_size: images kept (the reference's ``--pool_size``, 50 for CycleGAN).
        seed: seed of the pool's private generator.

    Shape:
        - images: ``(B, C, H, W)``; output: ``(B, C, H, W)``, detached.

    Example:
        >>> pool = ImagePool(2)
        >>> x = torch.randn(2, 3, 4, 4)
        >>> bool(torch.equal(pool.query(x), x)), len(pool)
        (True, 2)
    """

    kind = "junyanz_image_pool"

    def __init__(self, pool_size: int = 50, seed: int = 0) -> None:
        super().__init__(pool_size, seed)

    @property
    def pool_size(self) -> int:
        return self.capacity

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch of the same size mixing ``images`` with stored ones (see the class)."""
        if self.capacity == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.capacity:
                self.images.append(image.clone())
                out.append(image)
            elif self._coin():
                k = self._index(self.capacity)
                out.append(self._like(self.images[k], image))
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)
