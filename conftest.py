"""Repository-wide test setup: synthetic data sets go to a per-session cache, never ~/.cache."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_i2i_cache(tmp_path_factory):
    old = os.environ.get("I2I_CACHE")
    os.environ["I2I_CACHE"] = str(tmp_path_factory.mktemp("i2i_cache"))
    yield
    if old is None:
        os.environ.pop("I2I_CACHE", None)
    else:
        os.environ["I2I_CACHE"] = old
