"""Where a CUT iteration's random choices come from: the flip decision and the patch ids.

Every random draw of a CUT training step goes through one :class:`Draws` object, the
recipe's ``draws`` attribute, in the reference's order: first the flip (with
``flip_equivariance`` only), then for each NCE call (``0``: NCE on (real_A, fake_B), ``1``:
NCE_Y on (real_B, idt_B)) and each tapped layer the patch ids, shared by every image of the
batch and by the key and query features.

:class:`NumpyDraws` (the default) draws from NumPy's global generator exactly as the
reference does (``np.random.random() < 0.5``, ``np.random.permutation(H * W)[:k]``), so a run
seeded like the reference draws the reference's numbers, and the trainer's checkpointed
NumPy state makes a resumed run draw what the uninterrupted one would have.
:class:`ReplayedDraws` hands out recorded choices instead (the golden train steps).

Example:
    >>> recipe.draws = ReplayedDraws(flipped=True, patch_ids=[[ids_layer0, ids_layer1]])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import torch


class Draws(Protocol):
    """The random choices of one CUT iteration (called in the order described above)."""

    def flip(self) -> bool:
        """Whether this iteration flips the generator's input along W."""
        ...

    def patch_ids(self, call: int, layer: int, positions: int, count: int) -> torch.Tensor:
        """``count`` distinct int64 indices into ``positions`` row-major positions of tap ``layer``."""
        ...


class NumpyDraws:
    """Draws from NumPy's global generator, call for call as the reference draws them."""

    def flip(self) -> bool:
        return bool(np.random.random() < 0.5)

    def patch_ids(self, call: int, layer: int, positions: int, count: int) -> torch.Tensor:
        return torch.from_numpy(np.random.permutation(positions)[:count].astype(np.int64))


class ReplayedDraws:
    """Recorded choices of one iteration: ``patch_ids[call][layer]`` and the flip decision.

    Raises ``ValueError`` (one line) when asked for a call or layer that was not recorded or
    whose ids do not fit the layer, so a replay never silently draws something else.
    """

    def __init__(self, patch_ids: Sequence[Sequence[torch.Tensor]], flipped: bool = False) -> None:
        self.recorded = [[torch.as_tensor(ids, dtype=torch.long) for ids in call] for call in patch_ids]
        self.flipped = bool(flipped)

    def flip(self) -> bool:
        return self.flipped

    def patch_ids(self, call: int, layer: int, positions: int, count: int) -> torch.Tensor:
        if call >= len(self.recorded) or layer >= len(self.recorded[call]):
            raise ValueError(f"no recorded patch ids for NCE call {call}, layer {layer} "
                             f"({len(self.recorded)} calls recorded)")
        ids = self.recorded[call][layer]
        if ids.numel() != count or (ids.numel() and int(ids.max()) >= positions):
            raise ValueError(f"recorded patch ids of NCE call {call}, layer {layer}: {ids.numel()} ids up to "
                             f"{int(ids.max()) if ids.numel() else None}, expected {count} below {positions}")
        return ids
