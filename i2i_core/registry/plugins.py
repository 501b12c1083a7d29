"""Plugin manager construction and safe entry-point loading.

Environment variables:
    I2I_LOAD_PLUGINS: comma-separated allow-list of entry-point names to load.
    I2I_DISABLE_PLUGINS: comma-separated entry-point names never to load.
    I2I_STRICT_PLUGINS=1: re-raise a plugin's import or registration error.
    I2I_TRACE_PLUGINS=1|all: print every registration (``all``: lifecycle too) hook call.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Iterable

import pluggy

from i2i_core.registry import hookspecs
from i2i_core.registry._markers import PROJECT

ENTRY_POINT_GROUP = "i2i"
#: the hooks the Trainer calls while a run trains (traced only with I2I_TRACE_PLUGINS=all)
LIFECYCLE_HOOKS = {
    "before_train", "before_step", "after_step", "on_log", "after_sample", "after_eval",
    "before_save_checkpoint", "after_load_checkpoint", "on_train_error", "after_train",
}


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed to import; shown by ``i2i plugins``."""

    name: str
    dist: str
    version: str
    error: str
    traceback: str


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {item.strip() for item in raw.split(",") if item.strip()}


def load_entry_points(
    pm: pluggy.PluginManager, warn: bool = True
) -> tuple[dict[str, tuple[str, str]], list[BrokenPlugin]]:
    """Load every ``i2i`` entry point under its own try/except.

    Returns:
        ``{entry point: (distribution, version)}`` of the loaded ones, and the broken ones.
    """
    allow = _env_list("I2I_LOAD_PLUGINS")
    deny = _env_list("I2I_DISABLE_PLUGINS") or set()
    strict = os.environ.get("I2I_STRICT_PLUGINS") == "1"
    broken: list[BrokenPlugin] = []
    loaded: dict[str, tuple[str, str]] = {}
    for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in deny or (allow is not None and ep.name not in allow):
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            loaded[ep.name] = (dist, version)
        except Exception as exc:
            if strict:
                raise
            record = BrokenPlugin(ep.name, dist, version, f"{type(exc).__name__}: {exc}",
                                  traceback.format_exc())
            broken.append(record)
            if warn:
                print(
                    f"warning: plugin {dist} {version} ({ep.name}) failed to load: {record.error} "
                    f"(details: `i2i plugins`; disable: I2I_DISABLE_PLUGINS={ep.name})",
                    file=sys.stderr,
                )
    return loaded, broken


def make_plugin_manager(
    *, autoload: bool = True, plugins: Iterable[object] = (), default_plugins: Iterable[object] = (),
    warn: bool = True,
) -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]], list[BrokenPlugin]]:
    """Build a fresh plugin manager: specs, entry points, extra plugins, then defaults last."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    loaded, broken = load_entry_points(pm, warn=warn) if autoload else ({}, [])
    for plugin in plugins:
        pm.register(plugin)
    for plugin in default_plugins:  # registered last so they run first (LIFO)
        if pm.get_plugin(getattr(plugin, "__name__", "")) is None:
            pm.register(plugin, name=getattr(plugin, "__name__", None))
    pm.check_pending()
    trace = os.environ.get("I2I_TRACE_PLUGINS")
    if trace:
        _install_tracing(pm, include_lifecycle=(trace == "all"))
    return pm, loaded, broken


def _install_tracing(pm: pluggy.PluginManager, include_lifecycle: bool) -> None:
    def before(hook_name, hook_impls, kwargs):
        if include_lifecycle or hook_name not in LIFECYCLE_HOOKS:
            names = [impl.plugin_name for impl in hook_impls]
            print(f"[i2i trace] {hook_name} -> {names}", file=sys.stderr)

    def after(outcome, hook_name, hook_impls, kwargs):
        if include_lifecycle or hook_name not in LIFECYCLE_HOOKS:
            print(f"[i2i trace] {hook_name} done", file=sys.stderr)

    pm.add_hookcall_monitoring(before, after)
