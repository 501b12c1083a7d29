"""The core's imports point one way: every module sits in a layer and imports only from its own
layer or the ones below; nothing imports in a circle, not even through imports inside functions.

Read from the source with ``ast`` (module level and inside functions), so the rule holds without
importing anything. ``if TYPE_CHECKING:`` imports never run and are allowed anywhere: they name
types in contracts (a hook spec's ``trainer: Trainer``). A new core module must be given a layer here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "i2i_core"

#: bottom to top
LAYERS: list[tuple[str, set[str]]] = [
    # pure building blocks: no file formats, no loop. distributed is here because StepContext
    # averages gradients with it; it imports nothing of the core.
    ("foundations", {
        "errors", "atomic", "signals", "config", "distributed", "recipe", "resolution", "metrics",
        "image_pool", "plugin_helpers", "registry", "registry._markers", "registry._registry",
        "registry.hookspecs", "registry.plugins", "registry.registries",
    }),
    ("formats and IO", {"checkpoint", "runlock", "report", "imageio"}),
    ("training", {
        "trainer", "precision", "profile", "schedule", "data", "divergence", "ema", "evaluate", "progress",
        "defaults", "losses",
    }),
    ("assembly", {"engine", "run", "inference", "translator", "tiling", "export"}),
    ("entry points", {"cli", "__main__", "testing", ""}),  # "" is the package itself (its lazy re-exports)
]
LAYER_OF = {module: i for i, (_, modules) in enumerate(LAYERS) for module in modules}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _core_imports(path: Path, module: str | None = None) -> set[str]:
    """Core modules ``path`` (the core module ``module``) imports when it runs: module level and
    inside functions, not under ``TYPE_CHECKING``."""
    module = _module_name(path) if module is None else module
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name == "i2i_core" or alias.name.startswith("i2i_core."):
                        found.add(alias.name.removeprefix("i2i_core").lstrip("."))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[: len(package) - (child.level - 1)]
                    target = ".".join([*base, *([child.module] if child.module else [])])
                elif child.module and (child.module == "i2i_core" or child.module.startswith("i2i_core.")):
                    target = child.module.removeprefix("i2i_core").lstrip(".")
                else:
                    target = None
                if target is not None:
                    # `from . import checkpoint` names a module; `from .config import X` a name in one
                    names = [f"{target}.{a.name}".lstrip(".") for a in child.names]
                    modules = [n for n in names if n in LAYER_OF]
                    found.update(modules if modules else [target])
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(module)
    return found


GRAPH = {_module_name(p): _core_imports(p) for p in sorted(ROOT.rglob("*.py"))}


def test_every_core_module_has_a_layer() -> None:
    missing = sorted(m for m in GRAPH if m not in LAYER_OF)
    assert not missing, f"give these core modules a layer in tests/test_layers.py: {missing}"
    gone = sorted(m for m in LAYER_OF if m not in GRAPH)
    assert not gone, f"tests/test_layers.py names modules that no longer exist: {gone}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    if module not in LAYER_OF:
        pytest.skip("no layer (reported by test_every_core_module_has_a_layer)")
    up = sorted(f"{t} ({LAYERS[LAYER_OF[t]][0]})" for t in GRAPH[module]
                if t in LAYER_OF and LAYER_OF[t] > LAYER_OF[module])
    assert not up, f"{module or 'i2i_core'} ({LAYERS[LAYER_OF[module]][0]}) imports upward: {', '.join(up)}"


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(GRAPH.get(node, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(m or "i2i_core" for m in cycle))
            if target not in state:
                walk(target)
        path.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            walk(module)


def test_the_reader_sees_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    # the rule is only as good as the reader: check it on a module written for the purpose
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nfrom ..errors import ConfigError\nif TYPE_CHECKING:\n"
                     "    from ..engine import Engine\ndef f():\n    from .. import checkpoint as ckpt\n"
                     "    import i2i_core.trainer\n    from ._registry import Registry\n", encoding="utf-8")
    assert _core_imports(probe, "registry.probe") == {"errors", "checkpoint", "trainer", "registry._registry"}
