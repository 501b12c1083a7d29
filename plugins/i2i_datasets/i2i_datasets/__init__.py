"""i2i dataset readers, reference preprocessing and the synthetic data generator.

Readers (``register_datasets``): ``aligned``, ``unaligned``, ``single`` and ``labels``
(alias ``cityscapes``). Commands (``register_commands``): ``i2i data synth`` and
``i2i data prepare-cityscapes``. See ``docs/datasets.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# imported on first use, so that `i2i --help` can list `i2i data` (command_entry) without torch
_EXPORTS = {
    "Plan": "preprocess", "Preprocess": "preprocess",
    "AlignedDataset": "readers", "LabelsDataset": "readers", "SingleDataset": "readers", "UnalignedDataset": "readers",
    "build_aligned": "readers", "build_labels": "readers", "build_single": "readers", "build_unaligned": "readers",
    "SyntheticSpec": "synthetic", "ensure_synthetic": "synthetic", "generate": "synthetic",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'i2i_datasets' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "AlignedDataset", "LabelsDataset", "Plan", "Preprocess", "SingleDataset", "SyntheticSpec",
    "UnalignedDataset", "__version__", "build_aligned", "build_labels", "build_single", "build_unaligned",
    "ensure_synthetic", "generate",
]
