"""i2i plugin: CUT and FastCUT (Park et al., ECCV 2020).

Registers the ``cut`` recipe, its networks (``cut_resnet``, ``cut_n_layers``,
``patch_sample_f``), losses (``patch_nce``, ``cut_gan``), presets and the ``cut`` checkpoint
importer. Written against ``i2i_core``'s public surface only; it uses no other plugin.
"""

from __future__ import annotations

__version__ = "0.1.0"
