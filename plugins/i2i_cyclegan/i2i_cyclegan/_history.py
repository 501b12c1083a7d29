"""Shared storage of the image histories: stored images, a private RNG and their state."""

from __future__ import annotations

from typing import Any

import torch

from i2i_core.errors import CheckpointError


class _History:
    """A list of stored images plus a private ``torch.Generator`` for the random draws.

    The generator is private (not the global RNG) so that the draws depend only on the seed
    and on the pool's own history; its state and the stored images travel through
    :meth:`state_dict` so that a resumed run continues the same sequence.

    Args:
        capacity: how many entries are kept; 0 turns the history off (inputs pass through).
        seed: seed of the private generator.
    """

    kind = "history"

    def __init__(self, capacity: int, seed: int = 0) -> None:
        if capacity < 0:
            raise ValueError(f"{type(self).__name__}: capacity {capacity} must be >= 0")
        self.capacity = int(capacity)
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return len(self.images)

    # --- draws ---------------------------------------------------------------------------
    def _coin(self) -> bool:
        """``U(0, 1) > 0.5`` (the references' ``random.uniform(0, 1) > 0.5``)."""
        return float(torch.rand((), generator=self.generator)) > 0.5

    def _index(self, n: int) -> int:
        """A uniform index in ``[0, n)``."""
        return int(torch.randint(0, n, (), generator=self.generator))

    @staticmethod
    def _like(stored: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        # a resumed history holds CPU float tensors; hand them back as the caller's kind
        return stored.to(device=like.device, dtype=like.dtype)

    # --- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Stored images (CPU tensors) and the generator state: loadable with ``weights_only=True``."""
        return {"kind": self.kind, "capacity": self.capacity,
                "images": [t.detach().to("cpu").clone() for t in self.images],
                "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned.

        Raises:
            CheckpointError: the state belongs to another kind of history.
        """
        kind = state.get("kind", self.kind)
        if kind != self.kind:
            raise CheckpointError(f"image history state of kind {kind!r} cannot be loaded into a {self.kind!r} "
                                  f"(model.variant differs from the checkpoint's run)")
        self.images = [t.clone() for t in state.get("images", [])][: self.capacity or None]
        if "rng" in state:
            self.generator.set_state(state["rng"])
