"""Fixtures of the i2i-datasets tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``$I2I_CACHE`` for the synthetic data sets."""
    root = tmp_path / "cache"
    monkeypatch.setenv("I2I_CACHE", str(root))
    return root
