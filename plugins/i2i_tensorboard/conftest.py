"""Lets the tests import ``i2i_tensorboard`` from this folder when the plugin is not pip-installed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
