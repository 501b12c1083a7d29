"""Plugins, examples and docs use the core only through its public surface.

The surface is ``i2i_core.__all__`` (plus :mod:`i2i_core.testing` in tests): whatever sits
behind it may move without breaking a third party's plugin. Read with ``ast`` from the
sources (and, for the docs, from their code blocks), so nothing is imported to check it.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import i2i_core

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = set(i2i_core.__all__)


def _python_sources() -> list[Path]:
    return sorted([*ROOT.glob("plugins/*/**/*.py"), *ROOT.glob("examples/**/*.py")])


def _is_test(path: Path) -> bool:
    return "tests" in path.relative_to(ROOT).parts or path.name == "conftest.py"


def _violations(tree: ast.AST, where: str, tests_allowed: bool) -> list[str]:
    bad: list[str] = []
    allowed_modules = {"i2i_core", "i2i_core.testing"} if tests_allowed else {"i2i_core"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad += [f"{where}:{node.lineno} import {a.name}" for a in node.names
                    if a.name.startswith("i2i_core") and a.name not in allowed_modules]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("i2i_core"):
            if node.module not in allowed_modules:
                bad.append(f"{where}:{node.lineno} from {node.module} import ...")
            elif node.module == "i2i_core":
                bad += [f"{where}:{node.lineno} from i2i_core import {a.name} (not in i2i_core.__all__)"
                        for a in node.names if a.name not in PUBLIC]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "i2i_core"
              and node.attr not in PUBLIC and not (tests_allowed and node.attr == "testing")):
            bad.append(f"{where}:{node.lineno} i2i_core.{node.attr} (not in i2i_core.__all__)")
    return bad


def test_the_surface_is_what_all_says():
    assert set(i2i_core._EXPORTS) | {"__version__"} == PUBLIC, "__all__ and _SOURCES list different names"
    assert len(i2i_core.__all__) == len(PUBLIC), "a name is listed twice in __all__"
    for name in sorted(PUBLIC - {"__version__"}):
        module = importlib.import_module(f"i2i_core.{i2i_core._EXPORTS[name]}")
        assert getattr(i2i_core, name) is getattr(module, name)


def test_every_public_name_is_documented_in_plugins_md():
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = sorted(n for n in PUBLIC - {"__version__"} if f"`{n}" not in text)
    assert not missing, f"docs/plugins.md (the stable API) does not list: {missing}"


@pytest.mark.parametrize("path", _python_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_and_examples_import_only_the_surface(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = _violations(tree, str(path.relative_to(ROOT)), tests_allowed=_is_test(path))
    assert not bad, "import only what i2i_core.__all__ names (i2i_core.testing in tests): " + "; ".join(bad)


_IMPORT_LINE = re.compile(r"^\s*(?:from\s+(i2i_core[\w.]*)\s+import\s+\(?([^)#\n]*)|import\s+(i2i_core[\w.]*))", re.M)


@pytest.mark.parametrize("doc", sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"]), ids=lambda p: p.name)
def test_docs_code_imports_only_the_surface(doc: Path):
    bad = []
    for block in re.findall(r"```(?:python|py)\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
        for module, names, plain in _IMPORT_LINE.findall(block):
            if plain and plain not in ("i2i_core", "i2i_core.testing"):
                bad.append(f"import {plain}")
            elif module and module == "i2i_core":
                bad += [f"from i2i_core import {n}" for n in (x.split(" as ")[0].strip() for x in names.split(","))
                        if n and n not in PUBLIC]
            elif module and module != "i2i_core.testing":
                bad.append(f"from {module} import ...")
    assert not bad, f"{doc.name}: code examples import past the public surface: {bad}"


def test_the_checker_catches_private_imports():
    tree = ast.parse("import i2i_core\nfrom i2i_core.io.checkpoint import load_state\nfrom i2i_core import Engine, _EXPORTS\n"
                     "from i2i_core.testing import plugin_manager\ni2i_core.io.checkpoint.load_state('x')\n")
    bad = _violations(tree, "probe.py", tests_allowed=False)
    assert [b.split(" ", 1)[1] for b in bad] == [
        "from i2i_core.io.checkpoint import ...", "from i2i_core import _EXPORTS (not in i2i_core.__all__)",
        "from i2i_core.testing import ...", "i2i_core.io (not in i2i_core.__all__)"]
