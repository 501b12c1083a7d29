"""Histories of generated images for the discriminator (Shrivastava et al. 2017).

A GAN's discriminator that sees only the latest generator outputs tends to oscillate; showing it
a mix of current and earlier outputs damps that. Two policies exist in the reference code:

* :class:`ImagePool` - junyanz's ``util/image_pool.py`` (CycleGAN, pix2pixHD's ``--pool_size``):
  per *image*, store until full, then with probability 1/2 swap the new image for a stored one;
* :class:`ImageBuffer` - the ``ImageBuffer`` of "Hands-On GANs with PyTorch 1.x", ch. 6: per
  *batch*, always store (overwriting a random slot once full), then with probability 1/2 return a
  random stored batch, possibly the one just stored.

Both draw from a private ``torch.Generator`` (not Python's or torch's global RNG), so the
draws depend on the seed and the history's own past only, and its state travels in
:meth:`ImageHistory.state_dict` for an exact resume.

State format (``weights_only``-loadable): ``{"kind", "capacity", "images": [CPU tensors],
"rng": ByteTensor}``. Older checkpoints load too: CycleGAN's already had this format, and
pix2pixHD's ``{"images": [...]}`` (it drew from Python's ``random``, whose state the trainer
saved) loads its images and keeps the freshly seeded generator.

Example:
    >>> pool = ImagePool(2, seed=0)
    >>> x = torch.randn(2, 3, 4, 4)
    >>> bool(torch.equal(pool.query(x), x)), len(pool)
    (True, 2)
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from i2i_core.base.errors import CheckpointError

__all__ = ["ImageBuffer", "ImageHistory", "ImagePool"]


class ImageHistory:
    """Stored images plus the private generator of the random draws; subclasses define ``query``.

    Args:
        capacity: entries kept; 0 turns the history off (``query`` returns its input).
        seed: seed of the private generator.

    Raises:
        ValueError: a negative capacity.
    """

    #: names the policy in the saved state, so a pool's state never loads into a buffer
    kind: ClassVar[str] = "history"

    def __init__(self, capacity: int, seed: int = 0) -> None:
        if capacity < 0:
            raise ValueError(f"{type(self).__name__}: capacity {capacity} must be >= 0")
        self.capacity = int(capacity)
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return what the discriminator sees instead of ``images`` (detached)."""
        raise NotImplementedError

    # --- draws ---------------------------------------------------------------------------
    def _coin(self) -> bool:
        # the references' ``random.uniform(0, 1) > 0.5``
        return float(torch.rand((), generator=self.generator)) > 0.5

    def _index(self, n: int) -> int:
        return int(torch.randint(0, n, (), generator=self.generator))

    @staticmethod
    def _like(stored: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        # a resumed history holds CPU float tensors; hand them back as the caller's kind
        return stored.to(device=like.device, dtype=like.dtype)

    # --- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Stored images (CPU copies) and the generator state; loadable with ``weights_only=True``."""
        return {"kind": self.kind, "capacity": self.capacity,
                "images": [t.detach().to("cpu").clone() for t in self.images],
                "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, or an older ``{"images": [...]}`` state.

        Images beyond ``capacity`` are dropped (the run's pool size may have shrunk); a state
        without ``rng`` keeps the current generator.

        Raises:
            CheckpointError: the state belongs to the other policy, or is not a history state.
        """
        if not isinstance(state, dict) or not isinstance(state.get("images", []), list):
            raise CheckpointError(f"image history state: expected a dict with an 'images' list, got "
                                  f"{type(state).__name__}")
        kind = state.get("kind", self.kind)
        if kind != self.kind:
            raise CheckpointError(f"image history state of kind {kind!r} cannot be loaded into a {self.kind!r} "
                                  f"(the checkpoint's run used another history policy: model.variant differs?)")
        self.images = [t.detach().clone() for t in state.get("images", [])][: self.capacity or None]
        if "rng" in state:
            self.generator.set_state(state["rng"])


class ImagePool(ImageHistory):
    """junyanz's ``ImagePool.query``: a history of single generated images.

    Per image of a queried batch: while fewer than ``pool_size`` images are stored, store it and
    return it; once full, with probability 1/2 return a randomly chosen stored image and store the
    new one in its place, otherwise return the new image. ``pool_size`` 0 returns the batch
    unchanged.

    Args:
        pool_size: images kept (``--pool_size``: 50 for CycleGAN, 0 for pix2pixHD by default).
        seed: seed of the pool's private generator.

    Shape:
        - images: ``(B, C, H, W)``; output: ``(B, C, H, W)``, detached.
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


class ImageBuffer(ImageHistory):
    """The book's ``ImageBuffer.update``: a history of whole generated batches.

    ``query(batch)`` (the book's ``update``): if ``depth`` batches are stored, overwrite a random one with ``batch``, else
    append it; then with probability 1/2 return a random stored batch (possibly ``batch``
    itself), otherwise ``batch``. On the first call it can only return ``batch``. ``depth`` 0
    (not possible in the book) returns the batch unchanged.

    Args:
        depth: batches kept (the book's default 50).
        seed: seed of the buffer's private generator.

    Shape:
        - images: ``(B, C, H, W)``; output: a stored or the given batch, detached (a stored batch
          may have another batch size when the data set's last batch was smaller).
    """

    kind = "book_image_buffer"

    def __init__(self, depth: int = 50, seed: int = 0) -> None:
        super().__init__(depth, seed)

    @property
    def depth(self) -> int:
        return self.capacity

    def query(self, images: torch.Tensor) -> torch.Tensor:
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
