"""The code's layout rules: no import cycles between the hub's modules, and no
module but realtime/layer.py touching channels' or channels_redis' internals."""

import ast
import importlib.util
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# The hub's own packages (tests, bench and tools import them, never the reverse).
PACKAGES = (
    "hub",
    "realtime",
    "notifications",
    "chat",
    "dashboard",
    "emails",
    "web",
    "workers",
    "subscribers",
    "delivery",
)
LAYER_MODULE = "realtime.layer"


def _modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            name = name.removesuffix(".__init__")
            found[name] = ast.parse(path.read_text(), filename=str(path))
    return found


def _imported(tree: ast.Module, module: str, known: set[str]) -> set[str]:
    """Every hub module ``module`` imports, at module level or inside functions."""
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.rsplit(".", node.level)[0]
                base = f"{parent}.{base}" if base else parent
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_imports__no_cycle_between_the_hubs_modules():
    modules = _modules()
    known = set(modules)
    graph = {name: _imported(tree, name, known) for name, tree in modules.items()}
    # A package's __init__ importing its submodules is not a cycle of ideas.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}

    assert _cycles(graph) == []


def _private_names_of(package: str) -> set[str]:
    """Every single-underscore name a package defines or assigns on self."""
    origin = Path(importlib.util.find_spec(package).origin).parent
    names = set()
    for path in origin.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name):
                names.add(node.id)
    # Model._meta is Django's documented API, which channels uses too.
    return {n for n in names if n.startswith("_") and not n.startswith("__")} - {
        "_meta"
    }


def test_private_names__only_the_layer_module_uses_channels_internals():
    private = _private_names_of("channels") | _private_names_of("channels_redis")
    offenders = []
    for name, tree in _modules().items():
        if name == LAYER_MODULE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "channels"
            ):
                offenders += [
                    f"{name}: from {node.module} import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in private
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")
            ):
                offenders.append(f"{name}:{node.lineno}: .{node.attr}")

    assert offenders == [], "\n".join(offenders)
