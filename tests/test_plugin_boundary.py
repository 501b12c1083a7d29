"""Plugins are handed what they need: no plugin builds an Engine, and none imports another plugin.

Building an Engine inside a plugin loads every entry point again (against the hook contract
"called once per engine"); importing another plugin's modules ties their internals together.
Both are read off the plugins' source with ``ast``, so the rule stays true as code moves.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (ROOT / "plugins").glob("*/i2i_*") if p.is_dir() and (p / "__init__.py").is_file())


def _sources() -> list[tuple[str, Path, ast.Module]]:
    return [(pkg.name, f, ast.parse(f.read_text(encoding="utf-8"), filename=str(f)))
            for pkg in PACKAGES for f in sorted(pkg.rglob("*.py"))]


def test_the_plugins_are_found():
    assert {"i2i_pix2pix", "i2i_cyclegan", "i2i_pix2pixhd"} <= {p.name for p in PACKAGES}


def test_no_plugin_builds_an_engine():
    calls = [f"{f.relative_to(ROOT)}:{node.lineno}" for _, f, tree in _sources() for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Engine"]
    assert not calls, f"plugins must use the engine they are handed (click context, caller), not build one: {calls}"


def test_no_plugin_imports_another_plugin():
    plugins = {p.name for p in PACKAGES}
    bad = []
    for own, f, tree in _sources():
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{f.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names
                    if n.split(".")[0] in plugins - {own}]
    assert not bad, f"plugins reach each other only through the registries: {bad}"
