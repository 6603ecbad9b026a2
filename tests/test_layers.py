"""Imports between our packages run one way:
core ← grid ← cases ← frontend ← patrols ← diary ← project.

A lower layer never imports a higher one, not even inside a function, so
each can be read, tested and changed without the ones above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["core", "grid", "cases", "frontend", "patrols", "diary", "project"]


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


def test_no_package_imports_one_above_it():
    upward = []
    for level, package in enumerate(LAYERS):
        above = set(LAYERS[level + 1 :])
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in sorted(imported_packages(path) & above):
                upward.append(f"{path.relative_to(ROOT)} imports {name}")
    assert upward == []
