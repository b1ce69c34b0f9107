"""The booking package does not depend on what is built on it, and its modules form no circle.

`proposals` uses booking's pieces (polling, snapshots, the hold); booking reaches proposals only
through what `runtime` injects (`BookingContext.propose_alternatives`). An import the other way,
even inside a function, would be a cycle waiting to happen, so every import statement counts.
Inside the package the service composes collaborators that each own one concern (the record of
a claim, failures, the hold, the search, the outcomes): none imports the service, nor one that
imports it, so the picture of the package is a tree of layers, not a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
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


def _booking_graph() -> dict[str, set[str]]:
    """Each booking module's imports of other booking modules (every import statement)."""
    package = Path(autobook.booking.__file__).parent
    prefix = "autobook.booking."
    graph: dict[str, set[str]] = {}
    for path in sorted(package.glob("*.py")):
        names = _imports(path)
        graph[path.stem] = {
            name.removeprefix(prefix).split(".")[0]
            for name in names
            if name.startswith(prefix) and name.removeprefix(prefix).split(".")[0] != path.stem
        }
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, as the modules around it; None when there is none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        found = _first(visit(child, [*path, module]) for child in sorted(graph.get(module, ())))
        done.add(module)
        return found

    return _first(visit(module, []) for module in sorted(graph))


def _first(cycles: Iterable[list[str] | None]) -> list[str] | None:
    return next((cycle for cycle in cycles if cycle is not None), None)


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_booking_modules_import_each_other_in_no_circle() -> None:
    graph = _booking_graph()
    assert {"service", "record", "failures", "hold", "search", "outcomes"} <= set(graph)
    assert _cycle(graph) is None


def test_only_the_service_composes_the_collaborators() -> None:
    graph = _booking_graph()
    assert not [module for module, imports in graph.items() if "service" in imports]
    # No class of the package is built on another of its classes: each gets what it needs
    # passed in, so one request reads from claim to release in the service alone.
    package = Path(autobook.booking.__file__).parent
    classes = [
        (path.stem, node)
        for path in sorted(package.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.ClassDef)
    ]
    ours = {node.name for _, node in classes}
    inherited = {
        f"{module}.{node.name}({base.id})"
        for module, node in classes
        for base in node.bases
        if isinstance(base, ast.Name) and base.id in ours
    }
    assert {"RequestRecord", "FailureHandler", "SlotHolder", "SlotSearch", "Outcomes"} <= ours
    assert inherited == set()
