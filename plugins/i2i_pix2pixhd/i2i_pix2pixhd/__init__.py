"""pix2pixHD for i2i: networks, losses, the ``pix2pixhd`` recipe, presets, importer, feature clustering.

Registered through the ``i2i`` entry point ``pix2pixhd = "i2i_pix2pixhd.plugin"``.
"""

from __future__ import annotations

__version__ = "0.1.0"
