"""i2i dataset readers, reference preprocessing and the synthetic data generator.

Readers (``register_datasets``): ``aligned``, ``unaligned``, ``single`` and ``labels``
(alias ``cityscapes``). Commands (``register_commands``): ``i2i data synth`` and
``i2i data prepare-cityscapes``. See ``docs/datasets.md``.
"""

from __future__ import annotations

from .preprocess import Plan, Preprocess
from .readers import (
    AlignedDataset,
    LabelsDataset,
    SingleDataset,
    UnalignedDataset,
    build_aligned,
    build_labels,
    build_single,
    build_unaligned,
)
from .synthetic import SyntheticSpec, ensure_synthetic, generate

__version__ = "0.1.0"

__all__ = [
    "AlignedDataset", "LabelsDataset", "Plan", "Preprocess", "SingleDataset", "SyntheticSpec",
    "UnalignedDataset", "__version__", "build_aligned", "build_labels", "build_single", "build_unaligned",
    "ensure_synthetic", "generate",
]
