"""Replay handlers for the golden cases, one module per reference implementation."""
