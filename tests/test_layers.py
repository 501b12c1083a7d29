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

#: bottom to top: the core's folders are its layers (a module's layer is its folder's); the package's own
#: top-level modules (the CLI, the pytest plugin, the lazy re-exports) sit above them all
LAYERS: list[tuple[str, str]] = [
    ("base", "errors, signals, atomic files, torch.distributed helpers: no i2i concept"),
    ("registry", "registries, hook specs, plugin loading, registration helpers"),
    ("config", "run config models and their resolution"),
    ("recipe", "the recipe contract and what recipes are built from: losses, image pools, built-ins"),
    ("io", "checkpoints, run lock, images, data loaders, the run report"),
    ("evaluation", "metrics and the held-out evaluation loop"),
    ("training", "the Trainer and its parts: precision, profiles, schedules, EMA, divergence, progress"),
    ("assembly", "the Engine (plugins -> registries -> recipes) and a run from config to report"),
    ("inference", "loading runs, the Translator, tiling, importing official weights, export"),
    ("", "entry points: the CLI, the pytest plugin, the public surface"),
]
FOLDERS = [folder for folder, _ in LAYERS]


def layer_of(module: str) -> int:
    """A module's layer: the index of its top folder (``""`` for the package's own modules)."""
    head = module.split(".")[0] if "." in module or module in FOLDERS else ""
    return FOLDERS.index(head) if head in FOLDERS else -1




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
                    modules = [n for n in names if n in MODULES]
                    found.update(modules if modules else [target])
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(module)
    return found


MODULES = {_module_name(p) for p in ROOT.rglob("*.py")}
GRAPH = {_module_name(p): _core_imports(p) for p in sorted(ROOT.rglob("*.py"))}


def test_every_core_module_has_a_layer() -> None:
    missing = sorted(m for m in GRAPH if layer_of(m) < 0)
    assert not missing, f"these core modules sit in a folder that tests/test_layers.py gives no layer: {missing}"
    gone = sorted(f for f in FOLDERS if f and not (ROOT / f / "__init__.py").is_file())
    assert not gone, f"tests/test_layers.py names folders that are not core subpackages: {gone}"


@pytest.mark.parametrize("folder", [f for f in FOLDERS if f])
def test_every_layer_says_what_it_owns_and_may_import(folder: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / folder / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert len(doc) > 80 and "May import" in doc, f"i2i_core/{folder}/__init__.py: say what it owns and may import"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    if layer_of(module) < 0:
        pytest.skip("no layer (reported by test_every_core_module_has_a_layer)")
    up = sorted(f"{t} ({FOLDERS[layer_of(t)] or 'entry points'})" for t in GRAPH[module]
                if layer_of(t) > layer_of(module))
    assert not up, f"{module or 'i2i_core'} ({FOLDERS[layer_of(module)] or 'entry points'}) imports upward: {', '.join(up)}"


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
    probe.write_text("from typing import TYPE_CHECKING\nfrom ..base.errors import ConfigError\nif TYPE_CHECKING:\n"
                     "    from ..assembly.engine import Engine\ndef f():\n    from ..io import checkpoint as ckpt\n"
                     "    import i2i_core.training.trainer\n    from ._registry import Registry\n", encoding="utf-8")
    assert _core_imports(probe, "registry.probe") == {"base.errors", "io.checkpoint", "training.trainer",
                                                      "registry._registry"}
