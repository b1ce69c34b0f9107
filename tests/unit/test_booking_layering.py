"""The booking package does not depend on the proposals built on it (nor on the doors above).

`proposals` uses booking's pieces (polling, snapshots, the hold); booking reaches proposals only
through what `runtime` injects (`BookingContext.propose_alternatives`). An import the other way,
even inside a function, would be a cycle waiting to happen, so every import statement counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import autobook.booking

ABOVE_BOOKING = ("autobook.proposals", "autobook.agents", "autobook.serve", "autobook.runtime")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_booking_module_imports_what_is_built_on_it() -> None:
    package = Path(autobook.booking.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) > 10
    upward = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imports(path)
        if name.startswith(ABOVE_BOOKING)
    }
    assert upward == set()
