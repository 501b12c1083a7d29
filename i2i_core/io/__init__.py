"""Files and formats: checkpoints (safetensors weights, training state, the latest/best pointers),
the run-folder lock, image decoding and encoding at full depth, data loaders, and the run
report (loss plot, sample grids, results page).

May import: ``base``, ``registry``, ``config``, ``recipe``.
"""
