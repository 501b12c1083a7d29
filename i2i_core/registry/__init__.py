"""Registries, hook specifications and plugin loading."""

from ._markers import hookimpl, hookspec
from ._registry import Entry, Registry
from .registries import PresetRegistry, Registries, build_registries

__all__ = ["Entry", "PresetRegistry", "Registries", "Registry", "build_registries", "hookimpl", "hookspec"]
