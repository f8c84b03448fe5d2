"""The store's modules form no import cycle: each imports on its own, and the imports written in
them (at any depth: a module-level import, one inside a function, one under ``TYPE_CHECKING``)
point one way only. A cycle hidden in function-level imports (``Store`` importing ``reparse``
inside its methods while ``reparse`` imports ``Store``) is a layer reached around."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import service.store

STORE = Path(service.store.__file__).resolve().parent
PACKAGE = "service.store"


def _modules() -> dict[str, Path]:
    found = {PACKAGE: STORE / "__init__.py"}
    for path in sorted(STORE.glob("*.py")):
        if path.name != "__init__.py":
            found[f"{PACKAGE}.{path.stem}"] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The store modules ``name`` imports, anywhere in its source."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package of ``name``
                package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # ``from service.store import frontier`` names a module; ``import Store`` the package
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:  # ``service.store.sql.x`` → ``service.store.sql``
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_store_module_imports_on_its_own() -> None:
    for name in _modules():
        assert importlib.import_module(name).__name__ == name


def test_the_store_modules_import_each_other_one_way_only() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    # only the package's own __init__ gathers the others (nothing in the store imports the package)
    importers = sorted(n for n, deps in graph.items() if PACKAGE in deps)
    assert importers == [], f"store modules importing the package itself: {importers}"
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])
    assert "service.store.reparse" in graph["service.store.repo"]  # the scan sees imports at all


def test_nothing_in_the_store_sleeps() -> None:
    """Waiting for a lock is SQLite's busy handler's job (``busy_timeout``), and a lost race is rerun
    at once: a ``time.sleep`` in the store would block whatever thread calls it, the event loop's
    included."""
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "sleep":
                raise AssertionError(f"{name}:{node.lineno} calls sleep")
            if isinstance(node, ast.ImportFrom) and node.module == "time":
                assert "sleep" not in {a.name for a in node.names}, f"{name}:{node.lineno} imports sleep"


def test_the_cycle_finder_finds_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
