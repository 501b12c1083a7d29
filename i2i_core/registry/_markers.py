"""The pluggy markers of the project ``i2i``."""

import pluggy

PROJECT = "i2i"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
