"""Foundations with no i2i concept in them: the error types, signal handling (Ctrl-C/SIGTERM
finish the current step), crash-safe file writes, and the torch.distributed helpers.

May import: nothing of the core (every other folder may import from here).
"""
