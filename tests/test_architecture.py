"""The project's import graph: no cycle among its modules, and the layers `runner -> store <- dashboard`.

The graph is read from the source with ``ast`` (nothing is imported): every ``import`` and
``from ... import`` anywhere in a module, at module level, inside functions and under
``TYPE_CHECKING`` alike, is an edge to the project module it names (``from a.b import c`` names
the module ``a.b.c`` when there is one, else ``a.b``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("store", "runner", "dashboard")
#: (importer, imported) package pairs that must never appear.
FORBIDDEN = {("store", "runner"), ("store", "dashboard"), ("dashboard", "runner"), ("runner", "dashboard")}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path, packages=PACKAGES) -> dict[str, set[str]]:
    """module -> the project modules it imports, for every ``.py`` file under ``root/<package>``."""
    files = {module_name(p, root): p for pkg in packages for p in (root / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolved against the importing module's package
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:  # `import a.b.c` of a non-module: its package
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def forbidden_edges(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if (a.split(".")[0], b.split(".")[0]) in FORBIDDEN)


def test_no_import_cycle_among_the_project_modules():
    graph = import_graph(ROOT)
    assert {"runner.kinds", "store.hub", "dashboard.data"} <= set(graph) and "runner.kinds" in graph["runner.pipeline"]
    assert cycles(graph) == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles(graph))


def test_layers_runner_to_store_and_dashboard_to_store_only():
    graph = import_graph(ROOT)
    assert any(b.startswith("store") for a, targets in graph.items() if a.startswith("runner") for b in targets)
    assert forbidden_edges(graph) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_checks_see_function_level_relative_and_cross_layer_imports(tmp_path):
    """The detectors themselves: a cycle hidden in a function, a relative import, a forbidden layer."""
    root = _package(tmp_path, {
        "store/__init__.py": "",
        "store/a.py": "def f():\n    from store import b\n",
        "store/b.py": "from . import c\n",
        "store/c.py": "import store.a\n",
        "store/d.py": "from runner.x import y\n",
        "runner/__init__.py": "",
        "runner/x.py": "y = 1\nfrom store.d import *\n",
        "dashboard/__init__.py": "",
        "dashboard/v.py": "from runner import x\n",
    })
    graph = import_graph(root)
    assert graph["store.a"] == {"store.b"} and graph["store.b"] == {"store.c"} and graph["dashboard.v"] == {"runner.x"}
    assert sorted(cycles(graph)) == [["runner.x", "store.d"], ["store.a", "store.b", "store.c"]]
    assert forbidden_edges(graph) == [("dashboard.v", "runner.x"), ("store.d", "runner.x")]
