"""The package layout draws the architecture: every module imports, no import circles among saltjet
modules, and arrows point down only (cli -> study, pretrained -> inference -> training/evaluation/cost ->
config -> data/models -> errors/extras). See docs/ARCHITECTURE.md."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import saltjet
from saltjet.errors import MissingExtraError

SRC = Path(saltjet.__file__).parent

# Layer of each top-level part of the package; a module may import its own layer's other parts only
# where SIDEWAYS allows it, and lower layers freely. Higher numbers sit higher.
LAYERS = {
    "errors": 0,
    "extras": 1, "config_parsing": 1,
    "data": 2, "models": 2,
    "config": 3, "compiled": 3,
    "training": 4, "evaluation": 4, "cost": 4,
    "inference": 5, "trigger": 5,
    "pretrained": 6, "study": 6,
    "cli": 7,
    "__main__": 8,
}
# sideways arrows inside one layer (from -> to): the physical-input wrapper of a model
# (models.inputs) builds the run's derived features with data's feature module; evaluation and cost
# read run folders through training.run (the one run-folder module), and training uses neither.
SIDEWAYS = {("models", "data"), ("evaluation", "training"), ("cost", "training")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """saltjet modules that `name` imports anywhere in its body (function-local imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:  # `from saltjet.x import name` -> saltjet.x
                t = t.rpartition(".")[0]
            if t and t.startswith("saltjet") and t != name:
                found.add(t)
    return found - {"saltjet"}  # the package root only re-exports lazily (saltjet.__getattr__)


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_imports():
    for name in MODULES:
        if name.endswith("__main__"):
            continue
        try:
            importlib.import_module(name)
        except MissingExtraError:  # an optional extra that is not installed: not a layout bug
            pass


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(GRAPH.get(m, ())):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if not state.get(d):
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if not state.get(m):
            visit(m)


def test_arrows_point_down():
    upward = []
    for name, deps in GRAPH.items():
        src = _part(name)
        if src not in LAYERS:
            continue
        for d in deps:
            dst = _part(d)
            if dst is None or dst == src or dst not in LAYERS:
                continue
            if LAYERS[dst] > LAYERS[src] or (LAYERS[dst] == LAYERS[src] and (src, dst) not in SIDEWAYS):
                upward.append(f"{name} -> {d}")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(sorted(upward))


def test_every_part_has_a_layer():
    parts = {_part(n) for n in MODULES} - {None}
    assert parts <= set(LAYERS), f"give these a layer in LAYERS and docs/ARCHITECTURE.md: {parts - set(LAYERS)}"
