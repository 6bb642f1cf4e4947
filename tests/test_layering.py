"""Dependencies point one way (README "Code layout"): no import cycles inside the package, imports
only from a lower layer (or within the same one), and the kernels import no Ray, boto3 or webdataset.

Every import statement counts, also those inside functions (deferred imports still make a cycle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "corrupter"

# Highest first. A module's layer is that of its top-level name under corrupter/ ("" is the package
# itself, corrupter/__init__.py).
LAYERS = [
    {"", "__main__", "cli", "api"},
    {"pipeline", "evaluation", "publish"},
    {"release"},
    {"io", "config"},
    {"ops", "seeding", "_version", "assets"},
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or (PACKAGE.parent / relative / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """The corrupter modules ``path`` imports: ``from P import name`` is P.name when that is a
    module, else P; a parent package is not counted (Python imports it first, whoever asks)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if is_module(f"{base}.{a.name}") else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t == "corrupter" or t.startswith("corrupter.")}
    return found - {name}


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for number, names in enumerate(LAYERS):
        if top in names:
            return number
    raise AssertionError(f"{module}: put corrupter/{top} in a layer of tests/test_layering.py")


def test_the_graph_sees_deferred_and_relative_imports():
    graph = import_graph()
    assert "corrupter.io.s3" in graph["corrupter.io.storage"]  # inside open_storage
    assert "corrupter.ops" in graph["corrupter.pipeline.plan"]  # from .. import ops
    assert {"corrupter.release.layout", "corrupter.release.receipts"} <= graph["corrupter.pipeline.worker"]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_in_the_package():
    assert cycles(import_graph()) == []


def test_imports_point_down_the_layers():
    upward = [f"{module} -> {target}" for module, targets in import_graph().items()
              for target in targets if layer(target) < layer(module)]
    assert upward == []


def test_importing_ops_pulls_in_no_io_or_cluster_libraries():
    code = ("import sys, corrupter.ops; "
            "print(','.join(m for m in ('ray', 'boto3', 'webdataset') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
