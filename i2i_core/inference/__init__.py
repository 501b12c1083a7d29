"""Using a trained run: loading it for inference, the Translator (native size, tiled, batched),
tiling, importing official checkpoints, and export to ONNX / TorchScript / ExportedProgram.

May import: every folder below (``base`` through ``assembly``); only the CLI sits above.
"""
