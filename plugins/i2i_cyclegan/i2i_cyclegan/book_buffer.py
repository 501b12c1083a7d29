"""The book's ``ImageBuffer``: a history of whole generated *batches* for the discriminator.

It differs from junyanz's :class:`~i2i_cyclegan.image_pool.ImagePool` in three ways, which is
why it is its own class rather than a mode: it stores every batch it sees (appending until
full, then overwriting a random slot), it draws the coin *after* storing (so the batch it
returns may be the one just stored), and it works on whole batches, not single images.
"""

from __future__ import annotations

import torch

from ._history import _History


class ImageBuffer(_History):
    """History of generated batches with the book's ``ImageBuffer.update`` semantics.

    ``update(batch)``: if ``depth`` batches are stored, overwrite a random one with ``batch``,
    else append it; then with probability 1/2 return a random stored batch (possibly
    ``batch`` itself), otherwise ``batch``. On the first call it can only return ``batch``.
    ``depth`` 0 (not possible in the book) returns the batch unchanged.

    Args:
        depth: batches kept (the book's default 50).
        seed: seed of the buffer's private generator.

    Shape:
        - images: ``(B, C, H, W)``; output: a stored or the given batch, detached (a stored batch
          may have another batch size when the data set's last batch was smaller).

    Example:
        >>> buf = ImageBuffer(50)
        >>> x = torch.randn(1, 3, 4, 4)
        >>> bool(torch.equal(buf.update(x), x))
        True
    """

    kind = "book_image_buffer"

    def __init__(self, depth: int = 50, seed: int = 0) -> None:
        super().__init__(depth, seed)

    @property
    def depth(self) -> int:
        return self.capacity

    def update(self, images: torch.Tensor) -> torch.Tensor:
        """Store ``images`` and return them or a stored batch (see the class)."""
        images = images.detach()
        if self.capacity == 0:
            return images
        if len(self.images) == self.capacity:
            self.images[self._index(self.capacity)] = images.clone()
        else:
            self.images.append(images.clone())
        if self._coin():
            return self._like(self.images[self._index(len(self.images))], images)
        return images

    #: the recipe calls every history through ``query``
    query = update
