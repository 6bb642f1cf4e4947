"""The ops package's layout: family modules stand alone, sharing only the underscore helpers.

A family module (``corrupter/ops/<name>.py``, no leading underscore: blur, weather, ...) registers
corruptions. What several families need lives in the helper modules (``_scipy``, ``_opencv``,
``_imagemagick``, ``_pillow`` by the library whose behaviour they reproduce; ``_common`` for our own
math), so that no family module imports another, and no helper imports a family.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

OPS = Path(__file__).resolve().parents[2] / "corrupter" / "ops"
MODULES = sorted(p.stem for p in OPS.glob("*.py") if p.stem != "__init__")
FAMILIES = [m for m in MODULES if not m.startswith("_")]
HELPERS = [m for m in MODULES if m.startswith("_")]


def imported_ops_modules(source: str) -> set[str]:
    """Names of the corrupter.ops modules a module's source imports, relatively or absolutely."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[:2] == ["corrupter", "ops"] and len(parts) > 2:
                    found.add(parts[2])
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:  # from .x import y / from . import x
                found.update([module.split(".")[0]] if module else [a.name for a in node.names])
            elif node.level == 0 and module.split(".")[:2] == ["corrupter", "ops"]:
                parts = module.split(".")
                found.update([parts[2]] if len(parts) > 2 else [a.name for a in node.names])
    return found


def test_the_layout_has_families_and_library_helpers():
    assert {"blur", "digital", "noise", "weather"} <= set(FAMILIES)
    assert {"_common", "_scipy", "_opencv", "_imagemagick", "_pillow"} <= set(HELPERS)


@pytest.mark.parametrize("module", MODULES)
def test_no_module_imports_a_family_module(module):
    imported = imported_ops_modules((OPS / f"{module}.py").read_text())
    wrong = sorted(imported & set(FAMILIES))
    assert not wrong, (f"corrupter/ops/{module}.py imports the family module(s) {wrong}: move what it "
                       f"needs into a helper module (_scipy, _opencv, _imagemagick, _pillow, _common)")


@pytest.mark.parametrize("source, expected", [
    ("from .blur import directional_motion_blur", {"blur"}),
    ("from . import blur, _scipy", {"blur", "_scipy"}),
    ("from corrupter.ops.weather import fog", {"weather"}),
    ("from corrupter.ops import noise", {"noise"}),
    ("import corrupter.ops.digital as digital", {"digital"}),
    ("def f():\n    from .elastic import displace\n", {"elastic"}),  # imports inside functions count
    ("from ._registry import Draws\nimport torch", {"_registry"}),
])
def test_the_import_reader_sees_every_form(source, expected):
    assert imported_ops_modules(source) == expected
